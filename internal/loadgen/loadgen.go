package loadgen

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Mode is what a run does with its connections.
type Mode string

// The modes.
const (
	// ModeEcho sends messages and measures their echoes (the default).
	ModeEcho Mode = "echo"
	// ModeIdle opens the connections, holds them idle and reports the
	// server's memory per connection.
	ModeIdle Mode = "idle"
	// ModeHandshake opens and closes connections (WebSocket: upgrades) as
	// fast as Conns parallel workers can, and reports the rate.
	ModeHandshake Mode = "handshake"
	// ModeBroadcast (WebSocket) opens Conns subscribers and one publisher
	// that sends Rate messages per second; the server is expected to send
	// every message to every other connection. Latency is publish to
	// delivery.
	ModeBroadcast Mode = "broadcast"
)

// Compression modes of Config.Compress.
const (
	// CompressNoTakeover offers permessage-deflate with no context
	// takeover in either direction.
	CompressNoTakeover = "no-takeover"
	// CompressTakeover offers permessage-deflate and lets the server keep
	// its compression context (the client resets its own per message).
	CompressTakeover = "takeover"
)

// Config describes a run. The zero value, with Proto and Target set, is a
// 10-second closed-loop echo run over one connection with 64-byte messages.
type Config struct {
	// Proto is "tcp", "udp" or "ws".
	Proto string
	// Target is HOST:PORT; for ws also ws://HOST:PORT/PATH (default path
	// /), or wss://HOST:PORT/PATH for WebSocket over TLS.
	Target string
	// Mode is what the run does; "" means ModeEcho.
	Mode Mode
	// Conns is the number of connections (UDP: connected sockets; handshake
	// mode: parallel workers). 0 means 1.
	Conns int
	// Payload is the message size in bytes. 0 means 64; the minimum is 8
	// (16 for WebSocket text, whose timestamp is 16 hex digits).
	Payload int
	// Duration is the measured window. 0 means 10 s.
	Duration time.Duration
	// Warmup is traffic before the measured window, not counted. Default 0.
	Warmup time.Duration
	// Rate is the total offered load in messages per second, spread evenly
	// over the connections (open loop). 0 means closed loop: each
	// connection sends its next message when the previous echo arrived.
	// In broadcast mode it is the publish rate (0: 10).
	Rate float64
	// MaxMessages caps the messages sent (handshake mode: connections
	// made). 0 means no cap besides Duration.
	MaxMessages int64
	// Text sends WebSocket text messages instead of binary ones.
	Text bool
	// Compress offers permessage-deflate: "" (off), CompressNoTakeover or
	// CompressTakeover.
	Compress string
	// ServerPID, if positive, is a local server process to sample.
	ServerPID int
	// DialTimeout bounds each connect (and WebSocket handshake). 0: 5 s.
	DialTimeout time.Duration
	// Hold is how long idle mode waits after connecting before sampling
	// the server. 0 means 1 s.
	Hold time.Duration
	// Stalled is, in broadcast mode, how many of the subscribers never read
	// (with a small receive buffer, so the server's writes to them block).
	Stalled int
	// Slow is, for ws echo runs, a number of extra connections that
	// trickle their upgrade request one byte per SlowInterval (slowloris).
	Slow int
	// SlowInterval is the slow connections' byte interval. 0 means 100 ms.
	SlowInterval time.Duration
	// Burst is, in idle mode, a message size: after the hold, every
	// connection sends one binary message of Burst bytes and awaits its
	// echo (streamed, so the generator holds no message), then the
	// connections idle for BurstHold and the server is sampled again.
	// The burst is bounded by Duration. 0 means no burst.
	Burst int
	// BurstHold is how long the connections idle after the burst before
	// the last sample. 0 means Hold.
	BurstHold time.Duration
	// CAFile is a PEM file of CA certificates trusted for wss:// targets.
	// Default: the system roots.
	CAFile string
	// Insecure skips the verification of a wss:// server's certificate
	// (for loopback benchmarks against a self-signed certificate).
	Insecure bool
	// TLSVersion pins the TLS version of wss:// connections: "1.2" or
	// "1.3". Default "": negotiated, TLS 1.2 or later.
	TLSVersion string
	// TLSCurves restricts the key exchanges offered over wss://, by name
	// (x25519, p256, p384, p521, x25519mlkem768), in order of
	// preference. Default: crypto/tls's.
	TLSCurves []string
	// H2 carries each ws connection of a wss:// target as a stream of an
	// HTTP/2 connection (RFC 8441 extended CONNECT; the server must
	// advertise SETTINGS_ENABLE_CONNECT_PROTOCOL), over H2Conns shared
	// connections. Echo and idle modes.
	H2 bool
	// H2Conns is the number of HTTP/2 connections the sockets are spread
	// over, in turn: 1 puts every socket on one connection, Conns gives
	// each its own. 0: 1.
	H2Conns int
	// Progress, if set, is called about once per second during the run.
	Progress func(Progress)
}

// Progress is a running count, passed to Config.Progress.
type Progress struct {
	Elapsed  time.Duration
	Sent     int64
	Received int64
	Errors   int64
	Conns    int64
}

// Latency summarises a histogram in microseconds.
type Latency struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean_us"`
	P50   float64 `json:"p50_us"`
	P90   float64 `json:"p90_us"`
	P99   float64 `json:"p99_us"`
	P999  float64 `json:"p999_us"`
	Max   float64 `json:"max_us"`
}

// Server is what was sampled from the server process over the measured
// window (idle mode: before connecting and after holding).
type Server struct {
	PID        int        `json:"pid"`
	Start      ProcSample `json:"start"`
	End        ProcSample `json:"end"`
	CPUSeconds float64    `json:"cpu_seconds"`
	// CPUPercent is CPU time over wall time, in percent of one core.
	CPUPercent float64 `json:"cpu_percent"`
	// MsgsPerCPUSecond is received messages (handshake mode: handshakes)
	// per second of server CPU.
	MsgsPerCPUSecond float64 `json:"msgs_per_cpu_second"`
	// RSSPerConn is (End.RSS - Start.RSS) / connections in idle mode, and
	// End.RSS / connections otherwise.
	RSSPerConn float64 `json:"rss_per_conn_bytes"`
	Error      string  `json:"error,omitempty"`
}

// Result is a run's outcome.
type Result struct {
	Proto    string  `json:"proto"`
	Mode     Mode    `json:"mode"`
	Target   string  `json:"target"`
	Conns    int     `json:"conns"`
	Payload  int     `json:"payload"`
	Rate     float64 `json:"rate"`
	Text     bool    `json:"text,omitempty"`
	Compress string  `json:"compress,omitempty"`
	// Compressed reports whether the server accepted permessage-deflate
	// (on the first connection).
	Compressed bool `json:"compressed,omitempty"`
	// Connected is how many connections were established.
	Connected int64 `json:"connected"`
	// ConnectErrors counts failed connects and handshakes.
	ConnectErrors int64 `json:"connect_errors"`
	// Seconds is the measured window's actual length.
	Seconds float64 `json:"seconds"`
	// Sent and Received count every message (warm-up included); Errors
	// counts connections that failed mid-run and bad echoes.
	Sent     int64 `json:"sent"`
	Received int64 `json:"received"`
	Errors   int64 `json:"errors"`
	// Lost is Sent - Received: UDP loss, or replies still in flight when
	// the run ended.
	Lost int64 `json:"lost"`
	// Measured is the messages received whose send time fell in the
	// measured window; MsgsPerSec is Measured / Seconds.
	Measured    int64   `json:"measured"`
	MsgsPerSec  float64 `json:"msgs_per_sec"`
	BytesPerSec float64 `json:"bytes_per_sec"`
	// Expected is, in broadcast mode, the deliveries due to reading
	// subscribers for the messages published in the window.
	Expected int64   `json:"expected,omitempty"`
	Latency  Latency `json:"latency"`
	Server   *Server `json:"server,omitempty"`
	// SlowOpened and SlowClosed count slowloris connections opened and
	// closed by the server before the run ended; SlowClose is how long
	// the closed ones had been connected.
	SlowOpened int64   `json:"slow_opened,omitempty"`
	SlowClosed int64   `json:"slow_closed,omitempty"`
	SlowClose  *Spread `json:"slow_close,omitempty"`
	// TLS describes the first wss:// connection: version, cipher suite
	// and key exchange.
	TLS string `json:"tls,omitempty"`
	// H2Conns is, for an H2 run, the HTTP/2 connections the sockets were
	// streams of.
	H2Conns int `json:"h2_conns,omitempty"`
	// Burst is idle mode's burst, if Config.Burst was set.
	Burst *Burst `json:"burst,omitempty"`
	// Stall is broadcast mode's account of the stalled subscribers, if
	// Config.Stalled was set.
	Stall *Stall `json:"stall,omitempty"`
	// FirstError is the first error seen, for diagnosis.
	FirstError string `json:"first_error,omitempty"`
}

// Spread summarises durations in seconds.
type Spread struct {
	N   int     `json:"n"`
	Min float64 `json:"min_seconds"`
	P50 float64 `json:"p50_seconds"`
	Max float64 `json:"max_seconds"`
}

func spreadOf(d []time.Duration) *Spread {
	if len(d) == 0 {
		return nil
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return &Spread{N: len(s), Min: s[0].Seconds(), P50: s[len(s)/2].Seconds(), Max: s[len(s)-1].Seconds()}
}

// grace is how long echoes still in flight are awaited after the window.
const grace = time.Second

// udpTimeout is how long a closed-loop UDP sender waits for an echo before
// counting the datagram lost and sending the next.
const udpTimeout = 200 * time.Millisecond

// histShards spreads histogram recording over independently locked shards.
const histShards = 16

type run struct {
	cfg       Config
	start     time.Time     // clock origin
	t0        time.Duration // traffic starts
	mStart    time.Duration // measured window starts
	end       time.Duration // measured window ends; sending stops
	tickets   atomic.Int64
	sent      atomic.Int64
	recv      atomic.Int64
	measured  atomic.Int64
	errs      atomic.Int64
	conns     atomic.Int64
	connErrs  atomic.Int64
	slowOpen  atomic.Int64
	slowShut  atomic.Int64
	published atomic.Int64
	firstErr  atomic.Pointer[string]
	doneAt    atomic.Int64 // when every sender stopped, if before end
	hists     [histShards]shardHist
	// phases, if set, splits the latencies at split (broadcast with
	// stalled subscribers: before and after the first stalled).
	phases    *[2][histShards]shardHist
	split     atomic.Int64 // r.now() of the split; 0: not yet
	slowMu    sync.Mutex
	slowTimes []time.Duration
	template  []byte
	wsURL     wsTarget
	dialer    net.Dialer
	tls       *tls.Config
	tlsMu     sync.Mutex
	tlsInfo   string
	h2Groups  []*h2Group // H2: the shared connections
	h2Next    atomic.Int64
}

type shardHist struct {
	mu sync.Mutex
	h  *hdr.Histogram
}

func newHist() *hdr.Histogram { return hdr.New(1, int64(time.Minute/time.Microsecond), 3) }

func (r *run) now() time.Duration { return time.Since(r.start) }

func (r *run) deadline(d time.Duration) time.Time { return r.start.Add(d) }

func (r *run) fail(err error) {
	if err == nil {
		return
	}
	s := err.Error()
	r.firstErr.CompareAndSwap(nil, &s)
}

func (r *run) record(shard int, sentAt time.Duration) {
	now := r.now()
	r.recv.Add(1)
	if sentAt < r.mStart || sentAt > r.end {
		return
	}
	r.measured.Add(1)
	us := int64((now - sentAt) / time.Microsecond)
	if us < 1 {
		us = 1
	}
	h := &r.hists[shard%histShards]
	h.mu.Lock()
	h.h.RecordValue(us)
	h.mu.Unlock()
	if r.phases != nil {
		p := 0
		if s := r.split.Load(); s > 0 && int64(now) >= s {
			p = 1
		}
		h := &r.phases[p][shard%histShards]
		h.mu.Lock()
		h.h.RecordValue(us)
		h.mu.Unlock()
	}
}

// ticket reports whether another message may be sent under MaxMessages.
func (r *run) ticket() bool {
	if r.cfg.MaxMessages <= 0 {
		return true
	}
	return r.tickets.Add(1) <= r.cfg.MaxMessages
}

// Run performs one run. It returns early, with what was measured so far,
// when ctx ends.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := normalize(&cfg); err != nil {
		return nil, err
	}
	r := &run{cfg: cfg}
	r.dialer.Timeout = cfg.DialTimeout
	for i := range r.hists {
		r.hists[i].h = newHist()
	}
	if cfg.Mode == ModeBroadcast && cfg.Stalled > 0 {
		r.phases = new([2][histShards]shardHist)
		for p := range r.phases {
			for i := range r.phases[p] {
				r.phases[p][i].h = newHist()
			}
		}
	}
	if cfg.Proto == "ws" {
		t, err := parseWSTarget(cfg.Target)
		if err != nil {
			return nil, err
		}
		r.wsURL = t
		if t.tls {
			tc, err := tlsConfig(&cfg, t.host)
			if err != nil {
				return nil, err
			}
			r.tls = tc
		}
		if cfg.H2 {
			if !t.tls {
				return nil, errors.New("loadgen: --h2 needs a wss:// target")
			}
			if cfg.Mode != ModeEcho && cfg.Mode != ModeIdle {
				return nil, errors.New("loadgen: --h2 runs the echo and idle modes")
			}
			r.tls.NextProtos = []string{"h2", "http/1.1"} // http/1.1: a clear error, not TLS's
			n := max(cfg.H2Conns, 1)
			for range n {
				r.h2Groups = append(r.h2Groups, &h2Group{})
			}
			defer r.closeH2()
		}
	}
	r.template = makeTemplate(cfg.Payload)
	r.start = time.Now()
	res := &Result{Proto: cfg.Proto, Mode: cfg.Mode, Target: cfg.Target, Conns: cfg.Conns,
		Payload: cfg.Payload, Rate: cfg.Rate, Text: cfg.Text, Compress: cfg.Compress}
	var err error
	switch cfg.Mode {
	case ModeEcho:
		err = r.echo(ctx, res)
	case ModeIdle:
		err = r.idle(ctx, res)
	case ModeHandshake:
		err = r.handshakes(ctx, res)
	case ModeBroadcast:
		err = r.broadcast(ctx, res)
	}
	r.finish(res)
	return res, err
}

func normalize(c *Config) error {
	switch c.Proto {
	case "tcp", "udp", "ws":
	default:
		return fmt.Errorf("loadgen: unknown protocol %q (want tcp, udp or ws)", c.Proto)
	}
	if c.Target == "" {
		return errors.New("loadgen: no target")
	}
	if c.Mode == "" {
		c.Mode = ModeEcho
	}
	switch c.Mode {
	case ModeEcho, ModeIdle, ModeHandshake:
	case ModeBroadcast:
		if c.Proto != "ws" {
			return errors.New("loadgen: broadcast mode is for ws only")
		}
	default:
		return fmt.Errorf("loadgen: unknown mode %q", c.Mode)
	}
	if c.Proto == "udp" && c.Mode != ModeEcho {
		return fmt.Errorf("loadgen: %s mode is not for udp", c.Mode)
	}
	if c.Conns <= 0 {
		c.Conns = 1
	}
	if c.Payload == 0 {
		c.Payload = 64
	}
	min := 8
	if c.Proto == "ws" && c.Text {
		min = 16
	}
	if c.Payload < min {
		return fmt.Errorf("loadgen: payload %d is below the %d-byte timestamp", c.Payload, min)
	}
	if c.Proto == "udp" && c.Payload > 65507 {
		return fmt.Errorf("loadgen: payload %d exceeds a UDP datagram", c.Payload)
	}
	if c.Payload > 64<<20 {
		return fmt.Errorf("loadgen: payload %d exceeds 64 MiB", c.Payload)
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Warmup < 0 {
		c.Warmup = 0
	}
	if c.Rate < 0 {
		return errors.New("loadgen: negative rate")
	}
	if c.Mode == ModeBroadcast && c.Rate == 0 {
		c.Rate = 10
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 5 * time.Second
	}
	if c.Hold <= 0 {
		c.Hold = time.Second
	}
	if c.SlowInterval <= 0 {
		c.SlowInterval = 100 * time.Millisecond
	}
	switch c.Compress {
	case "", CompressNoTakeover, CompressTakeover:
	default:
		return fmt.Errorf("loadgen: unknown compression %q", c.Compress)
	}
	if c.Compress != "" && c.Proto != "ws" {
		return errors.New("loadgen: compression is for ws only")
	}
	if c.Stalled < 0 || c.Stalled >= c.Conns && c.Stalled > 0 {
		return errors.New("loadgen: stalled subscribers must be fewer than conns")
	}
	if c.Burst != 0 {
		switch {
		case c.Mode != ModeIdle || c.Proto != "ws":
			return errors.New("loadgen: a burst is for ws idle mode")
		case c.Burst < 8 || c.Burst > 64<<20:
			return fmt.Errorf("loadgen: burst of %d bytes (want 8 to 64 MiB)", c.Burst)
		case c.Compress != "":
			return errors.New("loadgen: a burst is sent uncompressed: no compression")
		}
	}
	if c.BurstHold <= 0 {
		c.BurstHold = c.Hold
	}
	if c.CAFile != "" || c.Insecure || c.TLSVersion != "" || len(c.TLSCurves) > 0 {
		if c.Proto != "ws" || !strings.HasPrefix(c.Target, "wss://") {
			return errors.New("loadgen: TLS options need a wss:// target")
		}
	}
	return nil
}

// filler is JSON-like text, so that compression sees realistic data.
const filler = `{"id":12345,"user":"netkit","tags":["tcp","udp","ws"],"ok":true,"score":3.14159,"text":"the quick brown fox jumps over the lazy dog"},`

func makeTemplate(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = filler[i%len(filler)]
	}
	return b
}

// stamp writes the send time into msg.
func (r *run) stamp(msg []byte, at time.Duration) {
	if r.cfg.Proto == "ws" && r.cfg.Text {
		const hexdig = "0123456789abcdef"
		v := uint64(at)
		for i := 15; i >= 0; i-- {
			msg[i] = hexdig[v&15]
			v >>= 4
		}
		return
	}
	binary.LittleEndian.PutUint64(msg, uint64(at))
}

// stampOf reads a send time back from an echoed message.
func (r *run) stampOf(msg []byte) (time.Duration, error) {
	if len(msg) != r.cfg.Payload {
		return 0, fmt.Errorf("loadgen: echo of %d bytes, sent %d", len(msg), r.cfg.Payload)
	}
	var v uint64
	if r.cfg.Proto == "ws" && r.cfg.Text {
		u, err := strconv.ParseUint(string(msg[:16]), 16, 64)
		if err != nil {
			return 0, errors.New("loadgen: echo with a corrupt timestamp")
		}
		v = u
	} else {
		v = binary.LittleEndian.Uint64(msg)
	}
	at := time.Duration(v)
	if at < 0 || at > r.now() {
		return 0, errors.New("loadgen: echo with a corrupt timestamp")
	}
	return at, nil
}

// endpoint is one client connection of any protocol.
type endpoint interface {
	send(msg []byte) error
	// recv returns the next echoed message, valid until the next recv.
	recv() ([]byte, error)
	setReadDeadline(t time.Time) error
	close() error
}

type streamEP struct {
	c   net.Conn
	buf []byte
}

func (e *streamEP) send(msg []byte) error {
	_, err := e.c.Write(msg)
	return err
}

func (e *streamEP) recv() ([]byte, error) {
	_, err := io.ReadFull(e.c, e.buf)
	return e.buf, err
}

func (e *streamEP) setReadDeadline(t time.Time) error { return e.c.SetReadDeadline(t) }
func (e *streamEP) close() error                      { return e.c.Close() }

type packetEP struct {
	c   net.Conn
	buf []byte
}

func (e *packetEP) send(msg []byte) error {
	_, err := e.c.Write(msg)
	return err
}

func (e *packetEP) recv() ([]byte, error) {
	n, err := e.c.Read(e.buf)
	return e.buf[:n], err
}

func (e *packetEP) setReadDeadline(t time.Time) error { return e.c.SetReadDeadline(t) }
func (e *packetEP) close() error                      { return e.c.Close() }

// connect opens one endpoint.
func (r *run) connect(ctx context.Context) (endpoint, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.DialTimeout)
	defer cancel()
	switch r.cfg.Proto {
	case "tcp":
		c, err := r.dialer.DialContext(ctx, "tcp", r.cfg.Target)
		if err != nil {
			return nil, false, err
		}
		return &streamEP{c: c, buf: make([]byte, r.cfg.Payload)}, false, nil
	case "udp":
		c, err := r.dialer.DialContext(ctx, "udp", r.cfg.Target)
		if err != nil {
			return nil, false, err
		}
		return &packetEP{c: c, buf: make([]byte, 65536)}, false, nil
	default:
		w, err := r.dialWS(ctx, 0)
		if err != nil {
			return nil, false, err
		}
		return w, w.dec != nil, nil
	}
}

// connectAll opens n endpoints with bounded parallelism; failed ones are
// nil. It stops early when ctx ends or by the time limit.
func (r *run) connectAll(ctx context.Context, n int, limit time.Duration) ([]endpoint, bool) {
	eps := make([]endpoint, n)
	var compressed atomic.Bool
	var next atomic.Int64
	var wg sync.WaitGroup
	stopAt := time.Now().Add(limit)
	workers := min(n, 64)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil || time.Now().After(stopAt) {
					return
				}
				ep, comp, err := r.connect(ctx)
				if err != nil {
					r.connErrs.Add(1)
					r.fail(fmt.Errorf("connect: %w", err))
					continue
				}
				if i == 0 && comp {
					compressed.Store(true)
				}
				r.conns.Add(1)
				eps[i] = ep
			}
		}()
	}
	wg.Wait()
	return eps, compressed.Load()
}

func closeAll(eps []endpoint) {
	for _, ep := range eps {
		if ep != nil {
			ep.close()
		}
	}
}

// sampler takes the server samples at the window's edges.
type sampler struct {
	r     *run
	srv   *Server
	start chan struct{}
}

func (r *run) newSampler(res *Result) *sampler {
	if r.cfg.ServerPID <= 0 {
		return nil
	}
	res.Server = &Server{PID: r.cfg.ServerPID}
	return &sampler{r: r, srv: res.Server}
}

// take samples the server into its start (end false) or end sample.
func (s *sampler) take(end bool) {
	if s == nil {
		return
	}
	p, err := SampleProc(s.srv.PID)
	if err != nil && s.srv.Error == "" {
		s.srv.Error = err.Error()
	}
	if end {
		s.srv.End = p
	} else {
		s.srv.Start = p
	}
}

// atWindow samples at the start of the measured window, in the background.
func (s *sampler) atWindow(ctx context.Context, wg *sync.WaitGroup) {
	if s == nil {
		return
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTimer(time.Until(s.r.deadline(s.r.mStart)))
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		s.take(false)
	}()
}

func (r *run) progress(ctx context.Context) func() {
	if r.cfg.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				r.cfg.Progress(Progress{Elapsed: r.now(), Sent: r.sent.Load(), Received: r.recv.Load(),
					Errors: r.errs.Load() + r.connErrs.Load(), Conns: r.conns.Load()})
			case <-done:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() { close(done); <-stopped }
}

func (r *run) setWindow() {
	r.t0 = r.now()
	r.mStart = r.t0 + r.cfg.Warmup
	r.end = r.mStart + r.cfg.Duration
}

// echo is the echo mode.
func (r *run) echo(ctx context.Context, res *Result) error {
	stop := r.progress(ctx)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	eps, comp := r.connectAll(ctx, r.cfg.Conns, r.cfg.DialTimeout+r.cfg.Duration)
	defer closeAll(eps)
	res.Compressed = comp
	if r.conns.Load() == 0 {
		return fmt.Errorf("loadgen: no connection to %s: %s", r.cfg.Target, r.errText())
	}
	r.setWindow()
	var wg sync.WaitGroup
	s := r.newSampler(res)
	s.atWindow(ctx, &wg)
	if r.cfg.Slow > 0 && r.cfg.Proto == "ws" {
		r.slowloris(ctx, &wg)
	}
	// Unblock everything when ctx ends.
	stopWatch := context.AfterFunc(ctx, func() {
		for _, ep := range eps {
			if ep != nil {
				ep.setReadDeadline(time.Unix(1, 0))
			}
		}
	})
	defer stopWatch()
	var workers sync.WaitGroup
	workersDone := make(chan struct{})
	for i, ep := range eps {
		if ep == nil {
			continue
		}
		workers.Add(1)
		if r.cfg.Rate > 0 {
			go func() { defer workers.Done(); r.openLoop(ctx, i, ep) }()
		} else {
			go func() { defer workers.Done(); r.closedLoop(ctx, i, ep) }()
		}
	}
	// The end sample is taken when sending stops (at the window's end, or
	// earlier when the message cap was reached), not after the grace.
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTimer(time.Until(r.deadline(r.end)))
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		case <-workersDone:
		}
		s.take(true)
	}()
	workers.Wait()
	r.markDone()
	close(workersDone)
	wg.Wait()
	return ctx.Err()
}

// markDone notes when the senders stopped, if before the window's end.
func (r *run) markDone() {
	if now := r.now(); now < r.end {
		r.doneAt.Store(int64(now))
	}
}

func (r *run) errText() string {
	if p := r.firstErr.Load(); p != nil {
		return *p
	}
	return "unknown error"
}

func (r *run) closedLoop(ctx context.Context, i int, ep endpoint) {
	msg := make([]byte, r.cfg.Payload)
	copy(msg, r.template)
	stream := r.cfg.Proto != "udp"
	if stream {
		ep.setReadDeadline(r.deadline(r.end + grace))
	}
	for ctx.Err() == nil {
		at := r.now()
		if at >= r.end || !r.ticket() {
			return
		}
		r.stamp(msg, at)
		if err := ep.send(msg); err != nil {
			r.errs.Add(1)
			r.fail(fmt.Errorf("send: %w", err))
			return
		}
		r.sent.Add(1)
		if !stream {
			ep.setReadDeadline(time.Now().Add(udpTimeout))
		}
		for {
			p, err := ep.recv()
			if err != nil {
				if !stream && errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil {
					break // lost: send the next one
				}
				if ctx.Err() == nil && !errors.Is(err, os.ErrDeadlineExceeded) {
					r.errs.Add(1)
					r.fail(fmt.Errorf("receive: %w", err))
				}
				return
			}
			sentAt, err := r.stampOf(p)
			if err != nil {
				r.errs.Add(1)
				r.fail(err)
				if stream {
					return
				}
				continue
			}
			r.record(i, sentAt)
			if sentAt == at || stream {
				break
			}
			// A late UDP echo of an earlier datagram: keep waiting for ours.
		}
	}
}

func (r *run) openLoop(ctx context.Context, i int, ep endpoint) {
	interval := time.Duration(float64(r.cfg.Conns) / r.cfg.Rate * float64(time.Second))
	if interval <= 0 {
		interval = time.Nanosecond
	}
	// Stagger the connections over one interval.
	offset := time.Duration(int64(interval) * int64(i) / int64(r.cfg.Conns))
	var mySent, myRecv atomic.Int64
	var senderDone atomic.Bool
	readerDone := make(chan struct{})
	ep.setReadDeadline(r.deadline(r.end + grace))
	go func() {
		defer close(readerDone)
		for {
			if senderDone.Load() && myRecv.Load() == mySent.Load() {
				return
			}
			p, err := ep.recv()
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, os.ErrDeadlineExceeded) && !senderDone.Load() {
					r.errs.Add(1)
					r.fail(fmt.Errorf("receive: %w", err))
				}
				return
			}
			sentAt, err := r.stampOf(p)
			if err != nil {
				r.errs.Add(1)
				r.fail(err)
				if r.cfg.Proto != "udp" {
					return
				}
				continue
			}
			r.record(i, sentAt)
			myRecv.Add(1)
		}
	}()
	msg := make([]byte, r.cfg.Payload)
	copy(msg, r.template)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
send:
	for k := int64(0); ctx.Err() == nil; k++ {
		at := r.t0 + offset + time.Duration(k)*interval
		if at >= r.end || !r.ticket() {
			break
		}
		if wait := time.Until(r.deadline(at)); wait > 0 {
			t.Reset(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				break send
			case <-readerDone:
				break send // the reader failed: stop sending
			}
		}
		select {
		case <-readerDone:
			break send
		default:
		}
		// The timestamp is the scheduled time: lateness counts as latency.
		r.stamp(msg, at)
		if err := ep.send(msg); err != nil {
			r.errs.Add(1)
			r.fail(fmt.Errorf("send: %w", err))
			break
		}
		mySent.Add(1)
		r.sent.Add(1)
	}
	senderDone.Store(true)
	if myRecv.Load() == mySent.Load() {
		ep.setReadDeadline(time.Unix(1, 0)) // wake the reader: nothing is due
	}
	<-readerDone
}

// idle is the idle mode: connect, hold, sample; then, with Burst set, the
// burst, a sample, a second hold and a last sample.
func (r *run) idle(ctx context.Context, res *Result) error {
	stop := r.progress(ctx)
	defer stop()
	s := r.newSampler(res)
	s.take(false)
	r.setWindow()
	eps, comp := r.connectAll(ctx, r.cfg.Conns, r.connectLimit())
	defer closeAll(eps)
	res.Compressed = comp
	t := time.NewTimer(r.cfg.Hold)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	s.take(true)
	r.end = r.now()
	if r.cfg.Burst > 0 && ctx.Err() == nil {
		r.burst(ctx, eps, s, res)
	}
	return ctx.Err()
}

// connectLimit bounds connecting every connection of an idle or broadcast
// run: the dial timeout and the duration, plus 1 ms per connection (4 ms
// over TLS, whose handshakes cost more CPU on both sides).
func (r *run) connectLimit() time.Duration {
	per := time.Millisecond
	if r.tls != nil {
		per = 4 * time.Millisecond
	}
	return r.cfg.DialTimeout + r.cfg.Duration + time.Duration(r.cfg.Conns)*per
}

// handshakes is the handshake mode.
func (r *run) handshakes(ctx context.Context, res *Result) error {
	stop := r.progress(ctx)
	defer stop()
	r.setWindow()
	var wg sync.WaitGroup
	s := r.newSampler(res)
	s.atWindow(ctx, &wg)
	for i := range r.cfg.Conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				at := r.now()
				if at >= r.end || !r.ticket() {
					return
				}
				ep, _, err := r.connect(ctx)
				r.sent.Add(1)
				if err != nil {
					r.connErrs.Add(1)
					r.fail(fmt.Errorf("connect: %w", err))
					continue
				}
				r.conns.Add(1)
				r.record(i, at)
				if w, ok := ep.(*wsConn); ok {
					w.writeClose()
				}
				ep.close()
			}
		}()
	}
	wg.Wait()
	r.markDone()
	s.take(true)
	return ctx.Err()
}

func (r *run) finish(res *Result) {
	res.Sent = r.sent.Load()
	res.Received = r.recv.Load()
	res.Errors = r.errs.Load()
	res.Connected = r.conns.Load()
	res.ConnectErrors = r.connErrs.Load()
	if r.cfg.Mode == ModeEcho {
		res.Lost = max(res.Sent-res.Received, 0)
	}
	res.Measured = r.measured.Load()
	res.SlowOpened = r.slowOpen.Load()
	res.SlowClosed = r.slowShut.Load()
	r.slowMu.Lock()
	res.SlowClose = spreadOf(r.slowTimes)
	r.slowMu.Unlock()
	r.tlsMu.Lock()
	res.TLS = r.tlsInfo
	res.H2Conns = len(r.h2Groups)
	r.tlsMu.Unlock()
	if p := r.firstErr.Load(); p != nil {
		res.FirstError = *p
	}
	win := r.end - r.mStart
	if d := time.Duration(r.doneAt.Load()); d > 0 && d < r.end { // stopped early (cap or ctx)
		win = max(d-r.mStart, 0)
	}
	res.Seconds = win.Seconds()
	if res.Seconds > 0 && r.cfg.Mode != ModeIdle {
		res.MsgsPerSec = float64(res.Measured) / res.Seconds
		res.BytesPerSec = res.MsgsPerSec * float64(r.cfg.Payload)
	}
	if r.cfg.Mode == ModeBroadcast {
		reading := int64(r.conns.Load()) - 1 - int64(r.cfg.Stalled)
		res.Expected = r.published.Load() * max(reading, 0)
	}
	res.Latency = summarize(&r.hists)
	if r.phases != nil && res.Stall != nil {
		res.Stall.Before = summarize(&r.phases[0])
		res.Stall.After = summarize(&r.phases[1])
	}
	if srv := res.Server; srv != nil {
		wall := srv.End.At.Sub(srv.Start.At).Seconds()
		srv.CPUSeconds = (srv.End.CPU - srv.Start.CPU).Seconds()
		if wall > 0 {
			srv.CPUPercent = 100 * srv.CPUSeconds / wall
		}
		work := res.Measured
		if r.cfg.Mode == ModeHandshake {
			work = res.Connected
		}
		if srv.CPUSeconds > 0 {
			srv.MsgsPerCPUSecond = float64(work) / srv.CPUSeconds
		}
		if c := res.Connected; c > 0 {
			if r.cfg.Mode == ModeIdle {
				srv.RSSPerConn = float64(srv.End.RSS-srv.Start.RSS) / float64(c)
			} else {
				srv.RSSPerConn = float64(srv.End.RSS) / float64(c)
			}
			if b := res.Burst; b != nil && b.After.RSS > 0 {
				b.CPUSeconds = (b.After.CPU - srv.End.CPU).Seconds()
				b.RSSPerConnAfter = float64(b.After.RSS-srv.Start.RSS) / float64(c)
				b.RSSPerConnSettled = float64(b.Settled.RSS-srv.Start.RSS) / float64(c)
			}
		}
	}
}

// summarize merges sharded histograms.
func summarize(hs *[histShards]shardHist) Latency {
	merged := newHist()
	for i := range hs {
		hs[i].mu.Lock()
		merged.Merge(hs[i].h)
		hs[i].mu.Unlock()
	}
	n := merged.TotalCount()
	if n == 0 {
		return Latency{}
	}
	return Latency{Count: n, Mean: merged.Mean(), P50: float64(merged.ValueAtQuantile(50)),
		P90: float64(merged.ValueAtQuantile(90)), P99: float64(merged.ValueAtQuantile(99)),
		P999: float64(merged.ValueAtQuantile(99.9)), Max: float64(merged.Max())}
}

// String is a one-line summary.
func (p Progress) String() string {
	return fmt.Sprintf("%5.1fs conns=%d sent=%d recv=%d errors=%d", p.Elapsed.Seconds(), p.Conns, p.Sent, p.Received, p.Errors)
}

var osErrDeadline = os.ErrDeadlineExceeded
