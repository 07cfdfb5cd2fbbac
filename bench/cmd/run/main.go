// Command run is the side-by-side benchmark of netkit and its peers
// (peers.md §7 of the project's reference notes). It builds peerserve and
// the netkit CLI, then runs every implementation of every scenario, each
// server in its own process pinned to CPU 0 (GOMAXPROCS=1) and the load
// generator (`netkit bench`) pinned to CPU 1, interleaving the
// implementations over rounds (A B C / B C A / C A B). Every step has a
// time limit. It writes raw JSON, a Markdown report with netkit's ratio to
// each peer, and an SVG chart per scenario.
//
//	go run ./cmd/run [-quick] [-rounds N] [-scenarios T1,W1,...] [-out DIR] [-port BASE]
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
	"sync"
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
	// Duration and Warmup override the run's (0: the run's; a negative
	// Warmup: none).
	Duration, Warmup time.Duration
	// TLS serves wss:// (peerserve -tls with the run's certificate; the
	// load generator trusts it and offers X25519 only, see tlsNote).
	TLS bool
	// Concurrent runs every implementation at once, each server in its
	// own process on CPU 0 and each load generator on CPU 1: for
	// measurements that are mostly waiting (S1's timeout watch), not for
	// latency or CPU figures.
	Concurrent bool
	// Kind selects the table: "" (the scenario's), "stall" (W4's stall
	// case), "watch" (S1's timeout watch).
	Kind string
	// Rounds, if positive, caps the rounds of this case.
	Rounds int
	// Impls, if set, are the implementations of this case (a subset of
	// the scenario's); nil: the scenario's.
	Impls []string
}

// tlsNote explains the TLS cases.
const tlsNote = "TLS cases (wss://): a self-signed ECDSA P-256 certificate generated once per run (peerserve -gencert), " +
	"each server serving it the way its library documents (see the server configs in raw.json), the load generator verifying it " +
	"(--ca) and offering X25519 only (--tls-curves x25519), so that every server runs the same key exchange: with crypto/tls's " +
	"defaults the crypto/tls-based servers would pick X25519MLKEM768 and nbio's fork of crypto/tls X25519. No session resumption: " +
	"every connection makes a full handshake. The negotiated version and suite are in the notes."

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
	SlowClose     *struct {
		N   int     `json:"n"`
		Min float64 `json:"min_seconds"`
		P50 float64 `json:"p50_seconds"`
		Max float64 `json:"max_seconds"`
	} `json:"slow_close"`
	TLS        string  `json:"tls"`
	Burst      *Burst  `json:"burst"`
	Stall      *Stall  `json:"stall"`
	Seconds    float64 `json:"seconds"`
	FirstError string  `json:"first_error"`
	Latency    struct {
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

// Burst mirrors loadgen.Burst (the fields used here).
type Burst struct {
	Bytes             int     `json:"bytes"`
	Echoed            int64   `json:"echoed"`
	Errors            int64   `json:"errors"`
	Seconds           float64 `json:"seconds"`
	HoldSeconds       float64 `json:"hold_seconds"`
	CPUSeconds        float64 `json:"cpu_seconds"`
	RSSPerConnAfter   float64 `json:"rss_per_conn_after_bytes"`
	RSSPerConnSettled float64 `json:"rss_per_conn_settled_bytes"`
	After             struct {
		RSS int64 `json:"rss_bytes"`
		HWM int64 `json:"hwm_bytes"`
	} `json:"after"`
	Settled struct {
		RSS int64 `json:"rss_bytes"`
	} `json:"settled"`
}

// Latency mirrors loadgen.Latency.
type Latency struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50_us"`
	P99   float64 `json:"p99_us"`
	P999  float64 `json:"p999_us"`
	Max   float64 `json:"max_us"`
}

// Stall mirrors loadgen.Stall.
type Stall struct {
	Checked bool   `json:"checked"`
	Error   string `json:"error"`
	Conns   []struct {
		DueBytes       int64   `json:"due_bytes"`
		AcceptedMax    int64   `json:"accepted_max_bytes"`
		ServerSendQMax int64   `json:"server_sendq_max_bytes"`
		StalledAt      float64 `json:"stalled_at_seconds"`
		ClosedAt       float64 `json:"closed_at_seconds"`
		ServerState    string  `json:"server_state"`
	} `json:"conns"`
	At               float64 `json:"at_seconds"`
	Watched          float64 `json:"watched_seconds"`
	Before           Latency `json:"before"`
	After            Latency `json:"after"`
	ServerRSSAtStall int64   `json:"server_rss_at_stall_bytes"`
	ServerRSSEnd     int64   `json:"server_rss_end_bytes"`
	ServerRSSMax     int64   `json:"server_rss_max_bytes"`
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
	// netkit is netkit on its default engine backend (the event loop on
	// Linux), netkit-goroutine the same server on the other one (peerserve
	// sets NETKIT_ENGINE=goroutine). UDP has one row: the udp face does not
	// run on the engine.
	tcpImpls = []string{"netkit", "netkit-goroutine", "std", "gnet", "nbio"}
	udpImpls = []string{"netkit", "std", "gnet", "nbio"}
	wsImpls  = []string{"netkit", "netkit-goroutine", "gorilla", "coder", "gobwas", "gws", "nbio"}
	// w1Impls adds netkit with metrics on (an OpenTelemetry SDK
	// MeterProvider): its msgs/s over netkit's is the cost of metrics.
	w1Impls = append([]string{"netkit", "netkit-goroutine", "netkit-metrics"}, wsImpls[2:]...)
	// bcastImpls adds netkit's hub package (in-memory broker) to the broadcast scenario.
	bcastImpls = append([]string{"netkit", "netkit-goroutine", "netkit-hub"}, wsImpls[2:]...)
)

// netkitImpl reports whether impl is one of netkit's rows (either
// backend, metrics, hub).
func netkitImpl(impl string) bool { return strings.HasPrefix(impl, "netkit") }

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
		{ID: "W1", Title: "WebSocket echo, closed loop", Proto: "ws", Impls: w1Impls, Primary: "msgs",
			Cases: append(q([]Case{c("100c 1KiB bin", "-c", "100", "-s", "1024")},
				[]Case{c("100c 1KiB bin", "-c", "100", "-s", "1024"), c("100c 1KiB text", "-c", "100", "-s", "1024", "--text"),
					c("1000c 1KiB bin", "-c", "1000", "-s", "1024")}), h2W1Cases()...), Note: h2Note},
		{ID: "W2", Title: "WebSocket fixed rate, 4 msgs/s per conn, 256 B text", Proto: "ws", Impls: wsImpls, Primary: "eff",
			Cases: q([]Case{c("1000c x 4/s", "-c", "1000", "-s", "256", "--text", "--rate", "4000")},
				[]Case{c("5000c x 4/s", "-c", "5000", "-s", "256", "--text", "--rate", "20000")})},
		{ID: "W3", Title: "WebSocket idle connections: server RSS per connection (ws:// and wss://)", Proto: "ws", Impls: wsImpls, Primary: "rss", Rounds: 1,
			Cases: append(q([]Case{idleBurst(1000, time.Second, time.Second), idleTLS(1000, time.Second)},
				[]Case{idleBurst(1000, 2*time.Second, 3*time.Second), idle(5000), idle(10000), idle(19000),
					idleTLS(1000, 2*time.Second), idleTLS(5000, 2*time.Second), idleTLS(10000, 2*time.Second), idleTLS(19000, 2*time.Second)}),
				h2W3Cases(q2(quick, "1s", "2s"))...),
			Note: "19k is the most that fits the 20000-fd limit of one process (server and load generator each hold one fd per connection, in separate processes). " +
				"Burst variant (first case): after the idle sample, every connection sends one 1 MiB binary message at once and awaits its echo (the generator streams it, holding no message), " +
				"the server is sampled right after the burst and again after the connections idled a few seconds: RSS/conn after the burst and after the idle are (RSS - RSS before connecting) / conns; " +
				"\"returns?\" is yes when the latter is within 25 % (or 2 KB) of the idle figure before the burst. Quick mode holds 1 s instead of 2 s (idle) and 3 s (after the burst). Go servers return freed heap to the OS lazily (the runtime's scavenger works over minutes), so RSS that stays up within seconds is not by itself a leak. " +
				tlsNote + h2Note},
		{ID: "W4", Title: "WebSocket broadcast with one stalled subscriber", Proto: "ws", Impls: bcastImpls, Primary: "p99", Rounds: 1,
			Cases: q([]Case{bcast(500), stall(3 * time.Second)}, []Case{bcast(5000), stall(13 * time.Second)}),
			Note: "One publisher, N subscribers, one of which never reads and has a 4 KiB SO_RCVBUF (the kernel doubles it). The load generator looks up the stalled connection's " +
				"sockets every 50 ms in the kernel's socket table (NETLINK_INET_DIAG, what `ss -tni` reads): the bytes the stalled socket accepted (its Recv-Q) and the bytes the " +
				"server's socket to it holds (its Send-Q). The path counts as full (\"stalled\") once more bytes were published to it than both queues hold by more than two messages: " +
				"the server must then block on it, queue for it in user space, or drop. The peers.md case (256 B at 10 Hz) publishes about 2.6 KB/s to it, " +
				"far less than the ~2.8 MB the kernel buffers on loopback, so it does not stall within the run (the notes say how much the kernel held); " +
				"the stall case (49 reading subscribers, 16 KiB at 100 Hz, 1.6 MB/s to the stalled one) fills it in about 2 s. " +
				"Each server's slow-consumer policy is its library's documented broadcast practice (server configs in raw.json): netkit TrySend with WriteTimeout 100 ms; " +
				"netkit-hub package hub (queue 256 per subscriber, Disconnect policy, a writer goroutine per subscriber); " +
				"gorilla examples/chat (send channel 256, drop + close, 10 s write wait); coder examples/chat (channel 16, async closeSlow, 5 s write timeout); " +
				"gobwas the same pattern as gorilla (no example of its own); gws README Broadcaster (unbounded asynchronous queue); nbio Conn.WriteMessage with MaxWriteBufferSize 6 MiB (README)."},
		{ID: "W5", Title: "WebSocket handshake rate (8 parallel), ws:// and wss://", Proto: "ws", Impls: wsImpls, Primary: "msgs",
			Cases: []Case{c("ws:// 8 parallel", "--mode", "handshake", "-c", "8"),
				{Name: "wss:// 8 parallel", Load: []string{"--mode", "handshake", "-c", "8"}, TLS: true, Rounds: 1}},
			Note: "Each handshake: TCP connect, (TLS handshake,) upgrade, close frame, close. msgs/CPU-s is handshakes per server CPU-second. " +
				"The wss:// case runs one round (to keep the full run under 30 minutes). " + tlsNote},
		{ID: "W6", Title: "WebSocket permessage-deflate, 1 KiB JSON-like text, 100 conns", Proto: "ws", Impls: wsImpls, Primary: "eff", Rounds: 1,
			Cases: q([]Case{deflate("no-takeover")}, []Case{deflate(""), deflate("no-takeover"), deflate("takeover")}),
			Note:  "gorilla, gobwas and nbio are run without context takeover in the takeover case (gorilla and gobwas support only that; nbio does not document takeover)."},
		{ID: "S1", Title: "Slowloris: upgrade requests trickled 1 B / 100 ms, never completed", Proto: "ws", Impls: wsImpls, Primary: "p99", Rounds: 1,
			Cases: q([]Case{slow(200), watch(50, 12*time.Second)}, []Case{slow(1000), watch(200, 125*time.Second)}),
			Note: "Slow connections send the upgrade request's lines, then endless header lines (X-Slow-N: N), one byte per 100 ms, never the blank line that ends the request (at most 4000 bytes, under every server's header limit). " +
				"First case: 100 normal connections at 1000 msgs/s beside the slow ones; normal-conn p99 is the metric. " +
				"Second case (timeout watch): every implementation at once, each in its own process, with only slow connections (and one normal connection at 10 msgs/s), " +
				"for longer than netkit's and nbio's 120 s defaults in full mode: how many slow connections each server closed, and after how long (from connecting). " +
				"The configured header timeouts, from each adapter's documented setup: " + timeoutsNote},
		{ID: "B1", Title: "TCP bulk echo, 4 conns x 64 KiB messages (iperf3 one-way as the ceiling)", Proto: "tcp", Impls: append([]string{"iperf3"}, tcpImpls...), Primary: "bytes", Rounds: 1,
			Cases: []Case{c("4c 64KiB", "-c", "4", "-s", "65536")},
			Note:  "iperf3 measures one direction; an echo moves every byte twice through loopback, so echo MB/s below half the iperf3 figure is expected."},
	}
}

func idle(n int) Case {
	return Case{Name: fmt.Sprintf("%d idle", n), Load: []string{"--mode", "idle", "-c", strconv.Itoa(n), "--hold", "2s"},
		Bound: time.Duration(n) * 2 * time.Millisecond}
}

// idleBurst is idle(n) (held for hold) followed by the burst: 1 MiB
// echoed on every connection at once (bounded by -d, here 30 s), then
// after of idling.
func idleBurst(n int, hold, after time.Duration) Case {
	return Case{Name: fmt.Sprintf("%d idle + 1 MiB burst", n),
		Load: []string{"--mode", "idle", "-c", strconv.Itoa(n), "--hold", hold.String(),
			"--burst", "1048576", "--burst-hold", after.String()},
		Duration: 30 * time.Second, Bound: time.Duration(n)*2*time.Millisecond + hold + after}
}

// idleTLS is idle(n) over wss://.
func idleTLS(n int, hold time.Duration) Case {
	return Case{Name: fmt.Sprintf("%d idle wss", n), Load: []string{"--mode", "idle", "-c", strconv.Itoa(n), "--hold", hold.String()},
		TLS: true, Bound: time.Duration(n) * 6 * time.Millisecond}
}

// bcast is the peers.md case: n subscribers (one stalled), 256 B at 10 Hz.
func bcast(n int) Case {
	return Case{Name: fmt.Sprintf("%d subs 256B 10Hz", n), Server: []string{"-broadcast"},
		Load:  []string{"--mode", "broadcast", "-c", strconv.Itoa(n), "--stalled", "1", "-s", "256", "--rate", "10"},
		Bound: time.Duration(n) * 2 * time.Millisecond}
}

// stall is the case that fills the stalled subscriber's path: 50
// subscribers (one stalled), 16 KiB at 100 Hz, for d after a 0.3 s
// warm-up.
func stall(d time.Duration) Case {
	return Case{Name: "stall: 50 subs 16KiB 100Hz", Server: []string{"-broadcast"}, Kind: "stall",
		Load:     []string{"--mode", "broadcast", "-c", "50", "--stalled", "1", "-s", "16384", "--rate", "100"},
		Duration: d, Warmup: 300 * time.Millisecond}
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

// watch is S1's timeout watch: n slow connections per server for d, every
// implementation at once.
func watch(n int, d time.Duration) Case {
	return Case{Name: fmt.Sprintf("timeout watch: %d slow, %s", n, d), Kind: "watch", Concurrent: true,
		Load:     []string{"-c", "1", "-s", "64", "--rate", "10", "--slow", strconv.Itoa(n), "--slow-interval", "100ms"},
		Duration: d, Warmup: -1, Bound: 15 * time.Second}
}

// headerTimeouts are the servers' configured limits on reading an upgrade
// request, as set up by the adapters (see cmd/peerserve).
var headerTimeouts = map[string]string{
	"netkit":           "120 s (websocket.ListenerConfig.Timeout default: http.Server ReadHeaderTimeout and ReadTimeout)",
	"netkit-goroutine": "120 s (as netkit: the HTTP request is read on a goroutine before the upgrade on either backend)",
	"gorilla":          "none (http.Server without timeouts, as gorilla's examples' http.ListenAndServe)",
	"coder":            "10 s (http.Server ReadTimeout, as coder's internal/examples)",
	"gobwas":           "10 s (the adapter's deadline on the upgrade; gobwas's README sets none)",
	"gws":              "none (http.Server without timeouts, as gws's README; ServerOption.HandshakeTimeout, 5 s, bounds only the response write)",
	"nbio":             "120 s (nbhttp.Config.KeepaliveTime default: the read deadline of a new connection)",
}

var timeoutsNote = func() string {
	var parts []string
	for _, impl := range wsImpls {
		parts = append(parts, impl+": "+headerTimeouts[impl])
	}
	return strings.Join(parts, "; ") + "."
}()

type runner struct {
	dir      string // bench module directory
	bin      string
	out      string
	duration time.Duration
	warmup   time.Duration
	rounds   int
	port     int
	basePort int
	profile  bool
	taskset  bool
	log      *os.File
	// noNetkitWS is set when netkit's websocket package did not compile.
	noNetkitWS bool
	// cert and key are the TLS cases' certificate files (absolute).
	cert, key string
}

func main() {
	quick := flag.Bool("quick", false, "short runs and fewer cases (under 3 minutes)")
	rounds := flag.Int("rounds", 0, "rounds per scenario (default 3, quick 1)")
	only := flag.String("scenarios", "", "comma-separated scenario IDs (default all)")
	casesFlag := flag.String("cases", "", "comma-separated substrings: only the cases whose name contains one (default all)")
	out := flag.String("out", "", "output directory (default out/DATE-MODE)")
	dur := flag.Duration("d", 0, "measured duration per run (default 4s, quick 1s)")
	profile := flag.Bool("profile", false, "write CPU profiles of the netkit servers into OUT/prof")
	total := flag.Duration("timeout", 0, "overall time limit (default 30m, quick 4m)")
	port := flag.Int("port", 21000, "servers listen on 127.0.0.1 from this port up (below the ephemeral range, at most 32000)")
	flag.Parse()
	if *port < 1024 || *port > 31000 {
		fatal("-port must be within 1024-31000")
	}
	r := &runner{duration: 4 * time.Second, warmup: time.Second, rounds: 3, port: *port, basePort: *port, profile: *profile}
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
	if err := r.genCert(ctx); err != nil {
		fatal(err.Error())
	}
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
		sc.Cases = wantedCases(*casesFlag, sc.Cases)
		rep.Scenarios = append(rep.Scenarios, sc)
		for _, cs := range sc.Cases {
			rounds := r.rounds
			if sc.Rounds > 0 && sc.Rounds < rounds {
				rounds = sc.Rounds
			}
			if cs.Rounds > 0 && cs.Rounds < rounds {
				rounds = cs.Rounds
			}
			for round := range rounds {
				if ctx.Err() != nil {
					break
				}
				if cs.Concurrent {
					for _, run := range r.concurrent(ctx, sc, cs, round) {
						rep.Runs = append(rep.Runs, run)
						fmt.Fprintf(os.Stderr, "%s %-18s r%d %-8s %s\n", sc.ID, cs.Name, round+1, run.Impl, brief(sc, run))
					}
					continue
				}
				impls := sc.Impls
				if cs.Impls != nil {
					impls = cs.Impls
				}
				impls = rotate(impls, round)
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
	if b := res.Burst; b != nil {
		s += fmt.Sprintf(" burst %d/%d in %.1fs rss/conn after %.1fKB settled %.1fKB", b.Echoed, res.Connected, b.Seconds, b.RSSPerConnAfter/1e3, b.RSSPerConnSettled/1e3)
	}
	if st := res.Stall; st != nil && len(st.Conns) > 0 {
		c := st.Conns[0]
		s += fmt.Sprintf(" stall: full at %.2fs closed at %.2fs (%s) p99 before %.0fµs after %.0fµs", c.StalledAt, c.ClosedAt, c.ServerState, st.Before.P99, st.After.P99)
	}
	if res.SlowOpened > 0 {
		s += fmt.Sprintf(" slow closed %d/%d", res.SlowClosed, res.SlowOpened)
	}
	if res.TLS != "" {
		s += " " + res.TLS
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
		r.port = r.basePort + 1
	}
	return "127.0.0.1:" + strconv.Itoa(r.port)
}

// server is a running peerserve.
type server struct {
	cmd    *exec.Cmd
	addr   string
	config json.RawMessage
	stop   func()
}

// one runs one implementation of one case: server up, load, server down.
func (r *runner) one(ctx context.Context, sc Scenario, cs Case, impl string, round int) (run Run) {
	run = Run{Scenario: sc.ID, Case: cs.Name, Impl: impl, Round: round + 1}
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
	if r.noNetkitWS && netkitImpl(impl) && sc.Proto == "ws" {
		run.Error = "skipped: netkit websocket not available"
		return run
	}
	srv, err := r.startServer(ctx, sc, cs, impl, round)
	if srv != nil {
		defer srv.stop()
		run.Server = srv.config
	}
	if err != nil {
		run.Error = err.Error()
		return run
	}
	run.Result, err = r.load(ctx, sc, cs, impl, round, srv)
	if err != nil {
		run.Error = err.Error()
	}
	return run
}

// concurrent runs every implementation of a Concurrent case at once:
// all servers up, all loads in parallel, all servers down.
func (r *runner) concurrent(ctx context.Context, sc Scenario, cs Case, round int) []Run {
	runs := make([]Run, len(sc.Impls))
	srvs := make([]*server, len(sc.Impls))
	start := time.Now()
	for i, impl := range sc.Impls {
		runs[i] = Run{Scenario: sc.ID, Case: cs.Name, Impl: impl, Round: round + 1}
		if r.noNetkitWS && netkitImpl(impl) && sc.Proto == "ws" {
			runs[i].Error = "skipped: netkit websocket not available"
			continue
		}
		srv, err := r.startServer(ctx, sc, cs, impl, round)
		if srv != nil {
			srvs[i] = srv
			defer srv.stop()
			runs[i].Server = srv.config
		}
		if err != nil {
			runs[i].Error = err.Error()
		}
	}
	var wg sync.WaitGroup
	for i, impl := range sc.Impls {
		if runs[i].Error != "" || srvs[i] == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := r.load(ctx, sc, cs, impl, round, srvs[i])
			runs[i].Result = res
			if err != nil {
				runs[i].Error = err.Error()
			}
			runs[i].Seconds = time.Since(start).Seconds()
		}()
	}
	wg.Wait()
	return runs
}

// genCert writes the TLS cases' certificate once per run (peerserve
// -gencert) into OUT/tls.
func (r *runner) genCert(ctx context.Context) error {
	dir, err := filepath.Abs(filepath.Join(r.out, "tls"))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	gctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if out, err := r.cmd(gctx, r.dir, filepath.Join(r.bin, "peerserve"), "-gencert", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("generating the TLS certificate: %v\n%s", err, out)
	}
	r.cert, r.key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	return nil
}

// times returns a case's measured duration and warm-up.
func (r *runner) times(cs Case) (time.Duration, time.Duration) {
	d, w := r.duration, r.warmup
	if cs.Duration > 0 {
		d = cs.Duration
	}
	switch {
	case cs.Warmup > 0:
		w = cs.Warmup
	case cs.Warmup < 0:
		w = 0
	}
	return d, w
}

// startServer starts peerserve for impl and waits for its configuration
// line and its port. The returned server (if not nil) must be stopped.
func (r *runner) startServer(ctx context.Context, sc Scenario, cs Case, impl string, round int) (*server, error) {
	addr := r.nextAddr()
	args := []string{"-impl", impl, "-proto", sc.Proto, "-addr", addr}
	args = append(args, cs.Server...)
	if cs.TLS {
		args = append(args, "-tls", "-tls-cert", r.cert, "-tls-key", r.key)
	}
	if r.profile && (impl == "netkit" || impl == "netkit-goroutine" || impl == "netkit-evloop") {
		args = append(args, "-cpuprofile", filepath.Join(r.out, "prof", fmt.Sprintf("%s_%s_%s_r%d.pprof", sc.ID, fileSafe(cs.Name), impl, round+1)))
	}
	sctx, scancel := context.WithCancel(ctx)
	srv := r.pinned(sctx, 0, filepath.Join(r.bin, "peerserve"), args...)
	stdout, _ := srv.StdoutPipe()
	srv.Stderr = r.log
	if err := srv.Start(); err != nil {
		scancel()
		return nil, err
	}
	s := &server{cmd: srv, addr: addr}
	s.stop = func() {
		defer scancel()
		srv.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { srv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			srv.Process.Kill()
			<-done
		}
	}
	fmt.Fprintf(r.log, "== %s %s %s round %d: peerserve %s\n", sc.ID, cs.Name, impl, round+1, strings.Join(args, " "))
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
			return s, errors.New("server exited before printing its configuration (see run.log)")
		}
		s.config = json.RawMessage(l)
	case <-time.After(10 * time.Second):
		return s, errors.New("server did not start within 10 s")
	}
	if sc.Proto != "udp" {
		if err := waitTCP(ctx, addr, 5*time.Second); err != nil {
			return s, err
		}
	}
	return s, nil
}

// load runs the load generator against srv.
func (r *runner) load(ctx context.Context, sc Scenario, cs Case, impl string, round int, srv *server) (*Result, error) {
	target := srv.addr
	if sc.Proto == "ws" {
		target = "ws://" + srv.addr + "/"
	}
	d, w := r.times(cs)
	largs := []string{"bench", sc.Proto, target, "-d", d.String(), "--warmup", w.String(),
		"--server-pid", strconv.Itoa(srv.cmd.Process.Pid), "--json"}
	if cs.TLS {
		largs[2] = "wss://" + srv.addr + "/"
		largs = append(largs, "--ca", r.cert, "--tls-curves", "x25519")
	}
	largs = append(largs, cs.Load...)
	bound := d + w + 30*time.Second + cs.Bound
	lctx, lcancel := context.WithTimeout(ctx, bound)
	defer lcancel()
	load := r.pinned(lctx, 1, filepath.Join(r.bin, "netkit"), largs...)
	load.Stderr = r.log
	fmt.Fprintf(r.log, "== %s %s %s round %d: netkit %s\n", sc.ID, cs.Name, impl, round+1, strings.Join(largs, " "))
	out, err := load.Output()
	if err != nil {
		msg := fmt.Sprintf("load generator: %v", err)
		switch {
		case ctx.Err() != nil:
			msg = "cancelled: " + ctx.Err().Error()
		case lctx.Err() != nil:
			msg += fmt.Sprintf(" (time limit %s)", bound)
		}
		return nil, errors.New(msg)
	}
	var res Result
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("load generator output: %v", err)
	}
	return &res, nil
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
