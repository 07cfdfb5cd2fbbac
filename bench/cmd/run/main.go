// Command run is the side-by-side benchmark of netkit and its peers
// (peers.md §7 of the project's reference notes). It builds peerserve and
// the netkit CLI, then runs every implementation of every scenario, each
// server in its own process pinned to CPU 0 (GOMAXPROCS=1) and the load
// generator (`netkit bench`) pinned to CPU 1, interleaving the
// implementations over rounds (A B C / B C A / C A B). Every step has a
// time limit. It writes raw JSON, a Markdown report with netkit's ratio to
// each peer, and an SVG chart per scenario.
//
//	go run ./cmd/run [-quick] [-rounds N] [-scenarios T1,W1,...] [-out DIR]
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Case is one parameter set of a scenario.
type Case struct {
	Name   string   // shown in tables
	Server []string // extra peerserve flags
	Load   []string // netkit bench flags (proto and target are added)
	// Bound is the load command's time limit beyond duration and warm-up.
	Bound time.Duration
}

// Scenario is a benchmark scenario of peers.md §7.
type Scenario struct {
	ID     string
	Title  string
	Proto  string // tcp, udp, ws
	Impls  []string
	Cases  []Case
	Rounds int // 0: the run's rounds
	// Primary is the metric charted and compared: "msgs", "eff" (msgs per
	// server CPU-second), "rss" (RSS per connection), "p99".
	Primary string
	Note    string
}

// Run is one measurement.
type Run struct {
	Scenario string          `json:"scenario"`
	Case     string          `json:"case"`
	Impl     string          `json:"impl"`
	Round    int             `json:"round"`
	Server   json.RawMessage `json:"server_config,omitempty"`
	Result   *Result         `json:"result,omitempty"`
	Error    string          `json:"error,omitempty"`
	Seconds  float64         `json:"wall_seconds"`
}

// Result mirrors the JSON of `netkit bench --json` (the fields used here).
type Result struct {
	Conns         int     `json:"conns"`
	Connected     int64   `json:"connected"`
	ConnectErrors int64   `json:"connect_errors"`
	Sent          int64   `json:"sent"`
	Received      int64   `json:"received"`
	Errors        int64   `json:"errors"`
	Lost          int64   `json:"lost"`
	Measured      int64   `json:"measured"`
	Expected      int64   `json:"expected"`
	MsgsPerSec    float64 `json:"msgs_per_sec"`
	BytesPerSec   float64 `json:"bytes_per_sec"`
	Compressed    bool    `json:"compressed"`
	SlowOpened    int64   `json:"slow_opened"`
	SlowClosed    int64   `json:"slow_closed"`
	FirstError    string  `json:"first_error"`
	Latency       struct {
		P50  float64 `json:"p50_us"`
		P90  float64 `json:"p90_us"`
		P99  float64 `json:"p99_us"`
		P999 float64 `json:"p999_us"`
		Max  float64 `json:"max_us"`
	} `json:"latency"`
	Server *struct {
		CPUSeconds       float64 `json:"cpu_seconds"`
		CPUPercent       float64 `json:"cpu_percent"`
		MsgsPerCPUSecond float64 `json:"msgs_per_cpu_second"`
		RSSPerConn       float64 `json:"rss_per_conn_bytes"`
		Start            struct {
			RSS int64 `json:"rss_bytes"`
		} `json:"start"`
		End struct {
			RSS     int64 `json:"rss_bytes"`
			HWM     int64 `json:"hwm_bytes"`
			Threads int   `json:"threads"`
			FDs     int   `json:"fds"`
		} `json:"end"`
		Error string `json:"error"`
	} `json:"server"`
	// Iperf is set for the iperf3 row: bits per second.
	IperfBps float64 `json:"iperf_bps,omitempty"`
}

// Report is the raw JSON output.
type Report struct {
	Started   time.Time         `json:"started"`
	Finished  time.Time         `json:"finished"`
	Mode      string            `json:"mode"`
	Machine   map[string]string `json:"machine"`
	Versions  map[string]string `json:"versions"`
	Duration  string            `json:"duration"`
	Warmup    string            `json:"warmup"`
	Rounds    int               `json:"rounds"`
	Scenarios []Scenario        `json:"scenarios"`
	Runs      []Run             `json:"runs"`
	Notes     []string          `json:"notes"`
}

var (
	tcpImpls = []string{"netkit", "std", "gnet", "nbio"}
	udpImpls = []string{"netkit", "std", "gnet", "nbio"}
	wsImpls  = []string{"netkit", "gorilla", "coder", "gobwas", "gws", "nbio"}
)

func scenarios(quick bool) []Scenario {
	q := func(quickV, fullV []Case) []Case {
		if quick {
			return quickV
		}
		return fullV
	}
	c := func(name string, load ...string) Case { return Case{Name: name, Load: load} }
	return []Scenario{
		{ID: "T1", Title: "TCP echo, closed loop", Proto: "tcp", Impls: tcpImpls, Primary: "msgs",
			Cases: q([]Case{c("100c 1KiB", "-c", "100", "-s", "1024")},
				[]Case{c("1c 64B", "-c", "1", "-s", "64"), c("100c 1KiB", "-c", "100", "-s", "1024"),
					c("1000c 1KiB", "-c", "1000", "-s", "1024")})},
		{ID: "T3", Title: "TCP echo, fixed rate 20k msgs/s over 1000 conns, 1 KiB", Proto: "tcp", Impls: tcpImpls, Primary: "eff",
			Cases: []Case{c("1000c 20k/s 1KiB", "-c", "1000", "-s", "1024", "--rate", "20000")}},
		{ID: "U1", Title: "UDP echo, closed loop", Proto: "udp", Impls: udpImpls, Primary: "msgs",
			Cases: q([]Case{c("16 socks 512B", "-c", "16", "-s", "512")},
				[]Case{c("1 sock 64B", "-c", "1", "-s", "64"), c("16 socks 512B", "-c", "16", "-s", "512"), c("16 socks 1400B", "-c", "16", "-s", "1400")})},
		{ID: "W1", Title: "WebSocket echo, closed loop", Proto: "ws", Impls: wsImpls, Primary: "msgs",
			Cases: q([]Case{c("100c 1KiB bin", "-c", "100", "-s", "1024")},
				[]Case{c("100c 1KiB bin", "-c", "100", "-s", "1024"), c("100c 1KiB text", "-c", "100", "-s", "1024", "--text"),
					c("1000c 1KiB bin", "-c", "1000", "-s", "1024")})},
		{ID: "W2", Title: "WebSocket fixed rate, 4 msgs/s per conn, 256 B text", Proto: "ws", Impls: wsImpls, Primary: "eff",
			Cases: q([]Case{c("1000c x 4/s", "-c", "1000", "-s", "256", "--text", "--rate", "4000")},
				[]Case{c("5000c x 4/s", "-c", "5000", "-s", "256", "--text", "--rate", "20000")})},
		{ID: "W3", Title: "WebSocket idle connections: server RSS per connection", Proto: "ws", Impls: wsImpls, Primary: "rss", Rounds: 1,
			Cases: q([]Case{idle(1000)}, []Case{idle(1000), idle(5000), idle(10000), idle(19000)}),
			Note:  "19k is the most that fits the 20000-fd limit of one process (server and load generator each hold one fd per connection, in separate processes). The 1 MiB-burst variant of peers.md is not run."},
		{ID: "W4", Title: "WebSocket broadcast, 256 B at 10 Hz, one stalled subscriber", Proto: "ws", Impls: wsImpls, Primary: "p99", Rounds: 1,
			Cases: q([]Case{bcast(500)}, []Case{bcast(2000)}),
			Note:  "Subscribers that never read get a 4 KiB receive buffer. At 256 B x 10 Hz the stalled subscriber absorbs only a few KB per second, so within the run it fills its socket buffers but may not yet block a server's writes."},
		{ID: "W5", Title: "WebSocket handshake rate (ws://, 8 parallel)", Proto: "ws", Impls: wsImpls, Primary: "msgs",
			Cases: []Case{c("8 parallel", "--mode", "handshake", "-c", "8")},
			Note:  "wss:// is not measured: the load generator's WebSocket client is plain TCP."},
		{ID: "W6", Title: "WebSocket permessage-deflate, 1 KiB JSON-like text, 100 conns", Proto: "ws", Impls: wsImpls, Primary: "eff", Rounds: 1,
			Cases: q([]Case{deflate("no-takeover")}, []Case{deflate(""), deflate("no-takeover"), deflate("takeover")}),
			Note:  "gorilla, gobwas and nbio are run without context takeover in the takeover case (gorilla and gobwas support only that; nbio does not document takeover)."},
		{ID: "S1", Title: "Slowloris: slow upgrade requests (1 B / 100 ms) beside 100 normal conns at 1000 msgs/s", Proto: "ws", Impls: wsImpls, Primary: "p99", Rounds: 1,
			Cases: q([]Case{slow(200)}, []Case{slow(1000)})},
		{ID: "B1", Title: "TCP bulk echo, 4 conns x 64 KiB messages (iperf3 one-way as the ceiling)", Proto: "tcp", Impls: append([]string{"iperf3"}, tcpImpls...), Primary: "bytes", Rounds: 1,
			Cases: []Case{c("4c 64KiB", "-c", "4", "-s", "65536")},
			Note:  "iperf3 measures one direction; an echo moves every byte twice through loopback, so echo MB/s below half the iperf3 figure is expected."},
	}
}

func idle(n int) Case {
	return Case{Name: fmt.Sprintf("%d idle", n), Load: []string{"--mode", "idle", "-c", strconv.Itoa(n), "--hold", "2s"},
		Bound: time.Duration(n) * 2 * time.Millisecond}
}

func bcast(n int) Case {
	return Case{Name: fmt.Sprintf("%d subs", n), Server: []string{"-broadcast"},
		Load:  []string{"--mode", "broadcast", "-c", strconv.Itoa(n), "--stalled", "1", "-s", "256", "--rate", "10"},
		Bound: time.Duration(n) * 2 * time.Millisecond}
}

func deflate(mode string) Case {
	name := "off"
	srv := []string{}
	load := []string{"-c", "100", "-s", "1024", "--text"}
	if mode != "" {
		name = mode
		srv = []string{"-compress", mode}
		load = append(load, "--compress="+mode)
	}
	return Case{Name: name, Server: srv, Load: load}
}

func slow(n int) Case {
	return Case{Name: fmt.Sprintf("%d slow + 100 normal", n),
		Load: []string{"-c", "100", "-s", "256", "--rate", "1000", "--slow", strconv.Itoa(n), "--slow-interval", "100ms"}}
}

type runner struct {
	dir      string // bench module directory
	bin      string
	out      string
	duration time.Duration
	warmup   time.Duration
	rounds   int
	port     int
	profile  bool
	taskset  bool
	log      *os.File
	// noNetkitWS is set when netkit's websocket package did not compile.
	noNetkitWS bool
}

func main() {
	quick := flag.Bool("quick", false, "short runs and fewer cases (under 3 minutes)")
	rounds := flag.Int("rounds", 0, "rounds per scenario (default 3, quick 1)")
	only := flag.String("scenarios", "", "comma-separated scenario IDs (default all)")
	out := flag.String("out", "", "output directory (default out/DATE-MODE)")
	dur := flag.Duration("d", 0, "measured duration per run (default 4s, quick 1s)")
	profile := flag.Bool("profile", false, "write CPU profiles of the netkit servers into OUT/prof")
	total := flag.Duration("timeout", 0, "overall time limit (default 30m, quick 4m)")
	flag.Parse()
	r := &runner{duration: 4 * time.Second, warmup: time.Second, rounds: 3, port: 21000, profile: *profile}
	if *quick {
		r.duration, r.warmup, r.rounds = time.Second, 300*time.Millisecond, 1
	}
	if *dur > 0 {
		r.duration = *dur
	}
	if *rounds > 0 {
		r.rounds = *rounds
	}
	limit := 30 * time.Minute
	if *quick {
		limit = 4 * time.Minute
	}
	if *total > 0 {
		limit = *total
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	ctx, stop := signalContext(ctx)
	defer stop()
	wd, _ := os.Getwd()
	r.dir = wd
	if _, err := os.Stat(filepath.Join(wd, "cmd", "peerserve")); err != nil {
		fatal("run from the bench module directory (bench/)")
	}
	mode := "full"
	if *quick {
		mode = "quick"
	}
	if *out == "" {
		*out = filepath.Join("out", time.Now().UTC().Format("2006-01-02T1504")+"-"+mode)
	}
	r.out = *out
	must(os.MkdirAll(filepath.Join(r.out, "prof"), 0o755))
	r.bin = filepath.Join(wd, "bin")
	logf, err := os.Create(filepath.Join(r.out, "run.log"))
	must(err)
	r.log = logf
	defer logf.Close()
	_, err = exec.LookPath("taskset")
	r.taskset = err == nil

	rep := &Report{Started: time.Now().UTC(), Mode: mode, Duration: r.duration.String(), Warmup: r.warmup.String(), Rounds: r.rounds}
	notes, err := r.build(ctx)
	rep.Notes = append(rep.Notes, notes...)
	if err != nil {
		fatal(err.Error())
	}
	if !r.taskset {
		rep.Notes = append(rep.Notes, "taskset not found: processes were not pinned")
	}
	rep.Machine = machine()
	rep.Versions = versions(r.dir)
	want := map[string]bool{}
	for _, id := range strings.Split(*only, ",") {
		if id = strings.TrimSpace(id); id != "" {
			want[strings.ToUpper(id)] = true
		}
	}
	for _, sc := range scenarios(*quick) {
		if len(want) > 0 && !want[sc.ID] {
			continue
		}
		rep.Scenarios = append(rep.Scenarios, sc)
		rounds := r.rounds
		if sc.Rounds > 0 && sc.Rounds < rounds {
			rounds = sc.Rounds
		}
		for _, cs := range sc.Cases {
			for round := range rounds {
				impls := rotate(sc.Impls, round)
				for _, impl := range impls {
					if ctx.Err() != nil {
						break
					}
					run := r.one(ctx, sc, cs, impl, round)
					rep.Runs = append(rep.Runs, run)
					fmt.Fprintf(os.Stderr, "%s %-18s r%d %-8s %s\n", sc.ID, cs.Name, round+1, impl, brief(sc, run))
				}
			}
		}
	}
	if ctx.Err() != nil {
		rep.Notes = append(rep.Notes, "the run was cut short by its time limit or a signal: "+ctx.Err().Error())
	}
	rep.Machine["loadavg_end"] = loadavg()
	rep.Finished = time.Now().UTC()
	raw, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		fmt.Fprintln(os.Stderr, "run: encoding raw.json:", err)
	}
	must(os.WriteFile(filepath.Join(r.out, "raw.json"), raw, 0o644))
	md := markdown(rep)
	must(os.WriteFile(filepath.Join(r.out, "results.md"), []byte(md), 0o644))
	for _, sc := range rep.Scenarios {
		if svg := chart(rep, sc); svg != "" {
			must(os.WriteFile(filepath.Join(r.out, sc.ID+".svg"), []byte(svg), 0o644))
		}
	}
	fmt.Print(md)
	fmt.Fprintf(os.Stderr, "wrote %s/{raw.json,results.md,*.svg} in %s\n", r.out, rep.Finished.Sub(rep.Started).Round(time.Second))
}

func rotate(s []string, k int) []string {
	out := make([]string, len(s))
	for i := range s {
		out[i] = s[(i+k)%len(s)]
	}
	return out
}

func brief(sc Scenario, r Run) string {
	if r.Error != "" {
		return "ERROR " + r.Error
	}
	res := r.Result
	s := fmt.Sprintf("%.0f msgs/s p99 %.0fµs", res.MsgsPerSec, res.Latency.P99)
	if res.IperfBps > 0 {
		s = fmt.Sprintf("%.2f Gbit/s", res.IperfBps/1e9)
	}
	if res.Server != nil {
		s += fmt.Sprintf(" cpu %.0f%% eff %.0f rss/conn %.1fKB", res.Server.CPUPercent, res.Server.MsgsPerCPUSecond, res.Server.RSSPerConn/1e3)
	}
	if res.Errors > 0 || res.ConnectErrors > 0 {
		s += fmt.Sprintf(" errors %d/%d %s", res.Errors, res.ConnectErrors, res.FirstError)
	}
	return s
}

// build compiles peerserve and the netkit CLI into bin/.
func (r *runner) build(ctx context.Context) ([]string, error) {
	var notes []string
	bctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if out, err := r.cmd(bctx, r.dir, "go", "build", "-mod=mod", "-o", r.bin+"/", "./cmd/peerserve").CombinedOutput(); err != nil {
		// netkit's websocket package may be mid-change: build without it.
		out2, err2 := r.cmd(bctx, r.dir, "go", "build", "-mod=mod", "-tags", "nonetkitws", "-o", r.bin+"/", "./cmd/peerserve").CombinedOutput()
		if err2 != nil {
			return notes, fmt.Errorf("building peerserve: %v\n%s\n%s", err, out, out2)
		}
		r.noNetkitWS = true
		notes = append(notes, "skipped: netkit websocket not available (peerserve built with -tags nonetkitws): "+firstLine(string(out)))
	}
	if out, err := r.cmd(bctx, filepath.Dir(r.dir), "go", "build", "-o", filepath.Join(r.bin, "netkit"), "./cmd/netkit").CombinedOutput(); err != nil {
		return notes, fmt.Errorf("building the netkit CLI: %v\n%s", err, out)
	}
	return notes, nil
}

// fileSafe maps a case name to a file-name fragment.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, s)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func (r *runner) cmd(ctx context.Context, dir, name string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, name, args...)
	c.Dir = dir
	c.WaitDelay = 2 * time.Second
	return c
}

// pinned returns a command pinned to cpu with GOMAXPROCS=1.
func (r *runner) pinned(ctx context.Context, cpu int, name string, args ...string) *exec.Cmd {
	var c *exec.Cmd
	if r.taskset {
		c = exec.CommandContext(ctx, "taskset", append([]string{"-c", strconv.Itoa(cpu), name}, args...)...)
	} else {
		c = exec.CommandContext(ctx, name, args...)
	}
	c.Env = append(os.Environ(), "GOMAXPROCS=1")
	c.WaitDelay = 2 * time.Second
	c.Cancel = func() error { return c.Process.Signal(syscall.SIGTERM) }
	return c
}

func (r *runner) nextAddr() string {
	// Below the kernel's ephemeral range (32768-60999 here), so that no
	// client socket holds the port.
	r.port++
	if r.port > 32000 {
		r.port = 21001
	}
	return "127.0.0.1:" + strconv.Itoa(r.port)
}

// one runs one implementation of one case: server up, load, server down.
func (r *runner) one(ctx context.Context, sc Scenario, cs Case, impl string, round int) Run {
	run := Run{Scenario: sc.ID, Case: cs.Name, Impl: impl, Round: round + 1}
	start := time.Now()
	defer func() { run.Seconds = time.Since(start).Seconds() }()
	if impl == "iperf3" {
		res, err := r.iperf(ctx)
		run.Result = res
		if err != nil {
			run.Error = err.Error()
		}
		return run
	}
	if r.noNetkitWS && impl == "netkit" && sc.Proto == "ws" {
		run.Error = "skipped: netkit websocket not available"
		return run
	}
	addr := r.nextAddr()
	args := []string{"-impl", impl, "-proto", sc.Proto, "-addr", addr}
	args = append(args, cs.Server...)
	if r.profile && impl == "netkit" {
		args = append(args, "-cpuprofile", filepath.Join(r.out, "prof", fmt.Sprintf("%s_%s_r%d.pprof", sc.ID, fileSafe(cs.Name), round+1)))
	}
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	srv := r.pinned(sctx, 0, filepath.Join(r.bin, "peerserve"), args...)
	stdout, _ := srv.StdoutPipe()
	srv.Stderr = r.log
	if err := srv.Start(); err != nil {
		run.Error = err.Error()
		return run
	}
	defer func() {
		srv.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { srv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			srv.Process.Kill()
			<-done
		}
	}()
	// The first stdout line is the server's configuration.
	lines := make(chan string, 1)
	go func() {
		// Libraries may log to stdout first (nbio and gnet do): the
		// configuration is the first line that is a JSON object.
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			l := sc.Bytes()
			if !sent && len(l) > 0 && l[0] == '{' && json.Valid(l) {
				lines <- string(l)
				sent = true
				continue
			}
			fmt.Fprintf(r.log, "[%s stdout] %s\n", impl, l)
		}
		if !sent {
			close(lines)
		}
	}()
	select {
	case l, ok := <-lines:
		if !ok {
			run.Error = "server exited before printing its configuration (see run.log)"
			return run
		}
		run.Server = json.RawMessage(l)
	case <-time.After(10 * time.Second):
		run.Error = "server did not start within 10 s"
		return run
	}
	if sc.Proto != "udp" {
		if err := waitTCP(ctx, addr, 5*time.Second); err != nil {
			run.Error = err.Error()
			return run
		}
	}
	target := addr
	if sc.Proto == "ws" {
		target = "ws://" + addr + "/"
	}
	largs := []string{"bench", sc.Proto, target, "-d", r.duration.String(), "--warmup", r.warmup.String(),
		"--server-pid", strconv.Itoa(srv.Process.Pid), "--json"}
	largs = append(largs, cs.Load...)
	bound := r.duration + r.warmup + 30*time.Second + cs.Bound
	lctx, lcancel := context.WithTimeout(ctx, bound)
	defer lcancel()
	load := r.pinned(lctx, 1, filepath.Join(r.bin, "netkit"), largs...)
	load.Stderr = r.log
	fmt.Fprintf(r.log, "== %s %s %s round %d: peerserve %s | netkit %s\n", sc.ID, cs.Name, impl, round+1, strings.Join(args, " "), strings.Join(largs, " "))
	out, err := load.Output()
	if err != nil {
		run.Error = fmt.Sprintf("load generator: %v", err)
		switch {
		case ctx.Err() != nil:
			run.Error = "cancelled: " + ctx.Err().Error()
		case lctx.Err() != nil:
			run.Error += fmt.Sprintf(" (time limit %s)", bound)
		}
		return run
	}
	var res Result
	if err := json.Unmarshal(out, &res); err != nil {
		run.Error = fmt.Sprintf("load generator output: %v", err)
		return run
	}
	run.Result = &res
	return run
}

func waitTCP(ctx context.Context, addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("server not listening on %s after %s", addr, limit)
}

// iperf runs iperf3 server on CPU 0 and client on CPU 1 for the duration.
func (r *runner) iperf(ctx context.Context) (*Result, error) {
	path, err := exec.LookPath("iperf3")
	if err != nil {
		return nil, errors.New("iperf3 not installed")
	}
	port := strings.TrimPrefix(r.nextAddr(), "127.0.0.1:")
	sctx, cancel := context.WithTimeout(ctx, r.duration+20*time.Second)
	defer cancel()
	// No -1 (one-off): the readiness probe below would be its one client.
	srv := r.pinned(sctx, 0, path, "-s", "-B", "127.0.0.1", "-p", port)
	srv.Stdout, srv.Stderr = r.log, r.log
	if err := srv.Start(); err != nil {
		return nil, err
	}
	defer srv.Wait()
	defer srv.Process.Signal(syscall.SIGTERM)
	if err := waitTCP(ctx, "127.0.0.1:"+port, 5*time.Second); err != nil {
		return nil, err
	}
	secs := strconv.Itoa(max(1, int(r.duration.Seconds())))
	cl := r.pinned(sctx, 1, path, "-c", "127.0.0.1", "-p", port, "-t", secs, "-J")
	out, err := cl.Output()
	if err != nil {
		return nil, fmt.Errorf("iperf3: %v", err)
	}
	var j struct {
		End struct {
			SumReceived struct {
				Bps float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal(out, &j); err != nil {
		return nil, err
	}
	return &Result{IperfBps: j.End.SumReceived.Bps, BytesPerSec: j.End.SumReceived.Bps / 8}, nil
}

func machine() map[string]string {
	m := map[string]string{"goos": runtime.GOOS, "goarch": runtime.GOARCH, "cpus": strconv.Itoa(runtime.NumCPU())}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m["cpu"] = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m["kernel"] = strings.TrimSpace(string(b))
	}
	if b, err := exec.Command("go", "version").Output(); err == nil {
		m["go"] = strings.TrimSpace(string(b))
	}
	m["loadavg_start"] = loadavg()
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
		m["nofile"] = fmt.Sprintf("%d/%d", rl.Cur, rl.Max)
	}
	return m
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// versions reads the pinned peer versions from go.mod.
func versions(dir string) map[string]string {
	v := map[string]string{}
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return v
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(l), "require "))
		if len(f) >= 2 && strings.Contains(f[0], "/") && strings.HasPrefix(f[1], "v") {
			for _, p := range []string{"gnet", "nbio", "gorilla", "coder", "gobwas/ws", "gws", "llib"} {
				if strings.Contains(f[0], p) {
					v[f[0]] = f[1]
				}
			}
		}
	}
	return v
}

func signalContext(ctx context.Context) (context.Context, func()) {
	return signalNotify(ctx)
}

func must(err error) {
	if err != nil {
		fatal(err.Error())
	}
}

func fatal(msg string) {
	fmt.Fprintln(os.Stderr, "run:", msg)
	os.Exit(1)
}

var _ = sort.Strings
