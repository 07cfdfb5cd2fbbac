// Command hubload is the load generator of bench/cluster: it connects
// subscribers to `netkit hub` nodes (round robin), subscribes them to one
// topic with the hub's JSON protocol, publishes timestamped messages at a
// fixed rate from one node, and reports publish→deliver latency per node,
// deliveries per second, missed messages, and each server process's CPU
// and RSS (from /proc). Every phase is bounded in time.
//
//	hubload -nodes ws://127.0.0.1:18080/hub,... [-subs 3000] [-rate 10] [-size 256]
//	        [-d 20s] [-warmup 3s] [-pub 0] [-pids hub0=PID,nats0=PID,...] [-json FILE]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/netkit-go/netkit/websocket"
)

const topic = "bench.fanout"

// compress offers permessage-deflate (-compress).
var compress bool

// reconnect makes a subscriber whose connection fails reconnect to the
// next node (-reconnect).
var reconnect bool

// sub is one subscriber: its node and its samples.
type sub struct {
	node int
	cl   *websocket.Client
	lat  []time.Duration // publish→deliver, measured window only
	last int64           // last sequence number seen
	miss int64           // gaps in the sequence
	got  int64
	prev int64         // arrival of the previous delivery, unix ns
	gap  time.Duration // longest time between two deliveries in the window

	reconnects int
}

type proc struct {
	name      string
	pid       int
	cpu0, cpu time.Duration
	rss       int64 // bytes, at the end
	rssMax    int64
}

// NodeResult is one node's figures.
type NodeResult struct {
	URL         string  `json:"url"`
	Subscribers int     `json:"subscribers"`
	Deliveries  int64   `json:"deliveries"`
	Missed      int64   `json:"missed"`
	P50ms       float64 `json:"p50_ms"`
	P99ms       float64 `json:"p99_ms"`
	P999ms      float64 `json:"p999_ms"`
	Maxms       float64 `json:"max_ms"`
	MaxGapms    float64 `json:"max_gap_ms"` // longest pause between two deliveries at one subscriber
}

// ProcResult is one server process's resource use over the measured window.
type ProcResult struct {
	Name   string  `json:"name"`
	PID    int     `json:"pid"`
	CPUPct float64 `json:"cpu_pct"` // of one core
	RSSMiB float64 `json:"rss_mib"`
}

// Result is the whole run.
type Result struct {
	Subscribers   int          `json:"subscribers"`
	Stalled       int          `json:"stalled"`
	ConnectErrors int64        `json:"connect_errors"`
	Rate          float64      `json:"rate"`
	Size          int          `json:"size"`
	Duration      string       `json:"duration"`
	Published     int64        `json:"published"`
	Deliveries    int64        `json:"deliveries"`
	PerSecond     float64      `json:"deliveries_per_s"`
	Expected      int64        `json:"expected"`
	Missed        int64        `json:"missed"`
	Reconnects    int          `json:"reconnects"`
	All           NodeResult   `json:"all"`
	Nodes         []NodeResult `json:"nodes"`
	Procs         []ProcResult `json:"procs"`
	ConnectSecs   float64      `json:"connect_s"`
}

func main() {
	nodes := flag.String("nodes", "", "comma-separated hub WebSocket URLs")
	nsubs := flag.Int("subs", 3000, "subscribers, spread round robin over the nodes")
	rate := flag.Float64("rate", 10, "publishes per second")
	size := flag.Int("size", 256, "payload bytes of each delivery")
	dur := flag.Duration("d", 20*time.Second, "measured duration")
	warm := flag.Duration("warmup", 3*time.Second, "unmeasured publishing before")
	pubNode := flag.Int("pub", 0, "index of the node the publisher connects to")
	pids := flag.String("pids", "", "server processes to sample: name=PID,...")
	out := flag.String("json", "", "also write the result as JSON to this file")
	conc := flag.Int("connect", 200, "connections opened at once")
	flag.BoolVar(&compress, "compress", false, "offer permessage-deflate")
	flag.BoolVar(&reconnect, "reconnect", true, "a subscriber whose connection fails reconnects to the next node and subscribes again")
	stalled := flag.Int("stalled", 0, "stalled subscribers per node: they subscribe and never read")
	kill := flag.Int("kill", 0, "a process to kill (SIGKILL) halfway through the measurement (fault injection)")
	flag.Parse()
	urls := strings.Split(*nodes, ",")
	if *nodes == "" || *nsubs < 1 || *rate <= 0 || *size < 64 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancelAll := context.WithTimeout(ctx, *dur+*warm+3*time.Minute)
	defer cancelAll()
	procs := append(parsePids(*pids), &proc{name: "hubload", pid: os.Getpid()})
	res, err := run(ctx, urls, *nsubs, *rate, *size, *dur, *warm, *pubNode, procs, *conc, *stalled, *kill)
	if res != nil {
		print(res)
		if *out != "" {
			b, _ := json.MarshalIndent(res, "", "  ")
			os.WriteFile(*out, append(b, '\n'), 0o644)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hubload:", err)
		os.Exit(1)
	}
}

func parsePids(s string) []*proc {
	var ps []*proc
	for _, kv := range strings.Split(s, ",") {
		name, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if pid, err := strconv.Atoi(v); err == nil {
			ps = append(ps, &proc{name: name, pid: pid})
		}
	}
	return ps
}

// subscribe dials url and subscribes to the topic, bounded by ctx.
func subscribe(ctx context.Context, url string) (*websocket.Client, error) {
	return subscribeWith(ctx, url, nil)
}

func subscribeWith(ctx context.Context, url string, d *net.Dialer) (*websocket.Client, error) {
	cl, err := websocket.Dial(ctx, url, &websocket.ClientConfig{Dialer: d, Compression: websocket.CompressionConfig{Disable: !compress}})
	if err != nil {
		return nil, err
	}
	if err := cl.WriteTextMessage(ctx, []byte(`{"op":"subscribe","topic":"`+topic+`"}`)); err != nil {
		cl.Close(ctx, 1000, "")
		return nil, err
	}
	m, err := cl.ReadTextMessage(ctx)
	if err != nil || !bytes.Contains(m, []byte(`"op":"ok"`)) {
		cl.Close(ctx, 1000, "")
		return nil, fmt.Errorf("subscribe: %q %v", m, err)
	}
	return cl, nil
}

func run(ctx context.Context, urls []string, n int, rate float64, size int, dur, warm time.Duration, pubNode int, procs []*proc, conc, stalled, kill int) (*Result, error) {
	res := &Result{Subscribers: n, Rate: rate, Size: size, Duration: dur.String(), Stalled: stalled * len(urls)}
	// Stalled subscribers: a tiny receive buffer, and nobody reads.
	for i := range stalled * len(urls) {
		dctx, c := context.WithTimeout(ctx, 10*time.Second)
		cl, err := subscribeWith(dctx, urls[i%len(urls)], &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		}})
		c()
		if err != nil {
			return res, fmt.Errorf("stalled subscriber: %w", err)
		}
		defer cl.Close(context.Background(), 1000, "")
	}
	subs := make([]*sub, n)
	var connErrs atomic.Int64
	t0 := time.Now()
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			node := i % len(urls)
			dctx, c := context.WithTimeout(ctx, 10*time.Second)
			defer c()
			cl, err := subscribe(dctx, urls[node])
			if err != nil {
				if connErrs.Add(1) <= 3 {
					fmt.Fprintln(os.Stderr, "hubload: subscriber:", err)
				}
				return
			}
			subs[i] = &sub{node: node, cl: cl, last: -1}
		}()
	}
	wg.Wait()
	res.ConnectErrors = connErrs.Load()
	res.ConnectSecs = time.Since(t0).Seconds()
	fmt.Fprintf(os.Stderr, "hubload: %d subscribers in %.1fs (%d errors)\n", n-int(res.ConnectErrors), res.ConnectSecs, res.ConnectErrors)
	defer func() {
		for _, s := range subs {
			if s != nil {
				s.cl.Close(context.Background(), 1000, "")
			}
		}
	}()
	// The subscriptions on the other nodes travel over NATS routes: publish
	// probes until every node's subscribers got one (bounded).
	pub, err := websocket.Dial(ctx, urls[pubNode], &websocket.ClientConfig{Compression: websocket.CompressionConfig{Disable: !compress}})
	if err != nil {
		return res, fmt.Errorf("publisher: %w", err)
	}
	defer pub.Close(context.Background(), 1000, "")
	var mStart, mEnd atomic.Int64 // measured window, unix ns
	mStart.Store(1 << 62)
	mEnd.Store(1 << 62)
	var rwg sync.WaitGroup
	readCtx, stopRead := context.WithCancel(ctx)
	defer stopRead()
	for _, s := range subs {
		if s == nil {
			continue
		}
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			buf := make([]byte, 0, 2*size)
			for {
				_, p, err := s.cl.Read(readCtx, buf[:0])
				if err != nil {
					if readCtx.Err() != nil || !reconnect {
						return
					}
					// The node went away: reconnect to the next one, as a
					// client's retry would; the sequence gap counts what
					// was missed meanwhile.
					s.cl.Close(context.Background(), 1000, "")
					for try := 1; ; try++ {
						s.node = (s.node + 1) % len(urls)
						dctx, c := context.WithTimeout(readCtx, 5*time.Second)
						cl, err := subscribe(dctx, urls[s.node])
						c()
						if err == nil {
							s.cl = cl
							s.reconnects++
							break
						}
						if readCtx.Err() != nil || try == 10 {
							return
						}
					}
					continue
				}
				now := time.Now().UnixNano()
				at, seq, ok := stampOf(p)
				if !ok {
					continue
				}
				if seq < 0 { // probe
					continue
				}
				if at >= mStart.Load() && at < mEnd.Load() {
					s.lat = append(s.lat, time.Duration(now-at))
					s.got++
					if s.prev > 0 && time.Duration(now-s.prev) > s.gap {
						s.gap = time.Duration(now - s.prev)
					}
					s.prev = now
				}
				if s.last >= 0 && seq > s.last+1 && at >= mStart.Load() {
					s.miss += seq - s.last - 1
				}
				s.last = seq
			}
		}()
	}
	// Drain the publisher's own socket (it gets errors only).
	go func() {
		for {
			if _, _, err := pub.Read(readCtx, nil); err != nil {
				return
			}
		}
	}()
	// Settle: probes for one second, so that every node's subscription
	// is known on every NATS server before the measurement.
	for range 20 {
		if err := pub.WriteTextMessage(ctx, publishMsg(time.Now().UnixNano(), -1, size)); err != nil {
			return res, fmt.Errorf("probe: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, p := range procs {
		p.cpu0, _, _ = sample(p.pid)
	}
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now().Add(interval)
	mStart.Store(start.Add(warm).UnixNano())
	mEnd.Store(start.Add(warm + dur).UnixNano())
	var published int64
	rssMax := make([]int64, len(procs))
	if kill > 0 {
		t := time.AfterFunc(time.Until(start.Add(warm+dur/2)), func() {
			fmt.Fprintf(os.Stderr, "hubload: killing pid %d\n", kill)
			syscall.Kill(kill, syscall.SIGKILL)
		})
		defer t.Stop()
	}
	for k := int64(0); ; k++ {
		at := start.Add(time.Duration(k) * interval)
		if at.UnixNano() >= mEnd.Load() || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Until(at))
		if err := pub.WriteTextMessage(ctx, publishMsg(time.Now().UnixNano(), k, size)); err != nil {
			return res, fmt.Errorf("publish: %w", err)
		}
		if at.UnixNano() >= mStart.Load() {
			published++
		}
		if k%int64(rate) == 0 {
			for i, p := range procs {
				if _, rss, err := sample(p.pid); err == nil && rss > rssMax[i] {
					rssMax[i] = rss
				}
			}
		}
	}
	wall := time.Duration(mEnd.Load() - mStart.Load())
	for i, p := range procs {
		cpu, rss, err := sample(p.pid)
		if err == nil {
			p.cpu, p.rss, p.rssMax = cpu-p.cpu0, rss, max(rss, rssMax[i])
		}
	}
	// Deliveries in flight: wait up to 2 s.
	time.Sleep(2 * time.Second)
	stopRead()
	for _, s := range subs {
		if s != nil {
			s.cl.Close(context.Background(), 1000, "")
		}
	}
	rwg.Wait()
	res.Published = published
	perNode := make([][]time.Duration, len(urls))
	var all []time.Duration
	res.Nodes = make([]NodeResult, len(urls))
	for i := range res.Nodes {
		res.Nodes[i].URL = urls[i]
	}
	for _, s := range subs {
		if s == nil {
			continue
		}
		res.Reconnects += s.reconnects
		nr := &res.Nodes[s.node]
		nr.Subscribers++
		nr.Deliveries += s.got
		nr.Missed += s.miss
		nr.MaxGapms = max(nr.MaxGapms, float64(s.gap)/1e6)
		res.All.MaxGapms = max(res.All.MaxGapms, float64(s.gap)/1e6)
		perNode[s.node] = append(perNode[s.node], s.lat...)
		all = append(all, s.lat...)
	}
	for i := range res.Nodes {
		fill(&res.Nodes[i], perNode[i])
		res.Deliveries += res.Nodes[i].Deliveries
		res.Missed += res.Nodes[i].Missed
	}
	res.All.URL = "all"
	res.All.Subscribers = n - int(res.ConnectErrors)
	res.All.Deliveries, res.All.Missed = res.Deliveries, res.Missed
	fill(&res.All, all)
	res.Expected = published * int64(res.All.Subscribers)
	res.PerSecond = float64(res.Deliveries) / wall.Seconds()
	for _, p := range procs {
		res.Procs = append(res.Procs, ProcResult{Name: p.name, PID: p.pid,
			CPUPct: 100 * p.cpu.Seconds() / wall.Seconds(), RSSMiB: float64(p.rssMax) / (1 << 20)})
	}
	return res, nil
}

func fill(nr *NodeResult, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(f float64) float64 {
		i := int(f * float64(len(lat)-1))
		return float64(lat[i]) / 1e6
	}
	nr.P50ms, nr.P99ms, nr.P999ms, nr.Maxms = q(0.5), q(0.99), q(0.999), float64(lat[len(lat)-1])/1e6
}

// publishMsg is a publish request whose delivery carries at and seq, padded
// so that the delivery's payload is about size bytes.
func publishMsg(at, seq int64, size int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"op":"publish","topic":"` + topic + `","data":{"t":`)
	b.WriteString(strconv.FormatInt(at, 10))
	b.WriteString(`,"s":`)
	b.WriteString(strconv.FormatInt(seq, 10))
	b.WriteString(`,"p":"`)
	head := len(`{"topic":"`+topic+`","data":{"t":`) + 19 + len(`,"s":`) + 8 + len(`,"p":""}}`)
	if pad := size - head; pad > 0 {
		b.WriteString(strings.Repeat("x", pad))
	}
	b.WriteString(`"}}`)
	return b.Bytes()
}

// stampOf finds "t" and "s" in a delivery without decoding it.
func stampOf(p []byte) (at, seq int64, ok bool) {
	i := bytes.Index(p, []byte(`"t":`))
	j := bytes.Index(p, []byte(`,"s":`))
	if i < 0 || j < i {
		return 0, 0, false
	}
	at, err := strconv.ParseInt(string(p[i+4:j]), 10, 64)
	if err != nil {
		return 0, 0, false
	}
	k := bytes.IndexByte(p[j+5:], ',')
	if k < 0 {
		return 0, 0, false
	}
	seq, err = strconv.ParseInt(string(p[j+5:j+5+k]), 10, 64)
	return at, seq, err == nil
}

// sample reads a process's CPU time (user + system) and RSS from /proc.
func sample(pid int) (cpu time.Duration, rss int64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, errors.New("bad stat")
	}
	f := strings.Fields(s[i+2:])
	// Fields after the name: state(0) ... utime(11) stime(12) ... rss(21).
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	pages, _ := strconv.ParseInt(f[21], 10, 64)
	const hz = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / hz, pages * int64(os.Getpagesize()), nil
}

func print(r *Result) {
	fmt.Printf("fan-out: %d subscribers over %d nodes, %g publishes/s of %d B, %s measured (%s to connect)\n",
		r.All.Subscribers, len(r.Nodes), r.Rate, r.Size, r.Duration, strconv.FormatFloat(r.ConnectSecs, 'f', 1, 64)+"s")
	if r.Stalled > 0 {
		fmt.Printf("plus %d stalled subscribers (never read, not counted)\n", r.Stalled)
	}
	fmt.Printf("published %d, deliveries %d of %d expected (%.0f/s), missed %d, connect errors %d, reconnects %d\n",
		r.Published, r.Deliveries, r.Expected, r.PerSecond, r.Missed, r.ConnectErrors, r.Reconnects)
	fmt.Printf("%-28s %6s %10s %7s %8s %8s %8s %8s %9s\n", "node", "subs", "deliveries", "missed", "p50 ms", "p99 ms", "p99.9", "max ms", "max gap")
	for _, n := range append(r.Nodes, r.All) {
		fmt.Printf("%-28s %6d %10d %7d %8.2f %8.2f %8.2f %8.2f %9.1f\n", n.URL, n.Subscribers, n.Deliveries, n.Missed, n.P50ms, n.P99ms, n.P999ms, n.Maxms, n.MaxGapms)
	}
	for _, p := range r.Procs {
		fmt.Printf("process %-8s pid %-7d CPU %6.1f%% of a core, RSS %7.1f MiB\n", p.Name, p.PID, p.CPUPct, p.RSSMiB)
	}
}
