package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/netkit-go/netkit/internal/loadgen"
)

// compressFlag is --compress (no context takeover) or --compress=MODE.
type compressFlag struct{ mode string }

func (f *compressFlag) String() string   { return f.mode }
func (f *compressFlag) IsBoolFlag() bool { return true }
func (f *compressFlag) Set(s string) error {
	switch s {
	case "true", loadgen.CompressNoTakeover:
		f.mode = loadgen.CompressNoTakeover
	case loadgen.CompressTakeover:
		f.mode = loadgen.CompressTakeover
	case "false", "", "off":
		f.mode = ""
	default:
		return fmt.Errorf("want no-takeover or takeover, got %q", s)
	}
	return nil
}

func bench(e *env, args []string) error {
	const synopsis = "tcp|udp|ws TARGET [flags]   (TARGET: HOST:PORT, or ws://HOST:PORT/PATH, or wss://HOST:PORT/PATH)"
	fs := newFlags(e, "bench", synopsis)
	var cfg loadgen.Config
	fs.IntVar(&cfg.Conns, "c", 1, "connections (udp: sockets; handshake mode: parallel workers)")
	fs.IntVar(&cfg.Payload, "s", 64, "message size in bytes (at least 8; ws text: 16)")
	fs.DurationVar(&cfg.Duration, "d", 10*time.Second, "measured duration")
	fs.DurationVar(&cfg.Warmup, "warmup", 0, "unmeasured traffic before the measured duration")
	fs.Float64Var(&cfg.Rate, "rate", 0, "fixed total rate in msgs/s (open loop); 0: closed loop (broadcast: publish rate, 0 = 10)")
	fs.Int64Var(&cfg.MaxMessages, "n", 0, "stop after this many messages (handshake mode: connections); 0: no cap")
	fs.BoolVar(&cfg.Text, "text", false, "ws: send text messages (default binary)")
	var comp compressFlag
	fs.Var(&comp, "compress", "ws: offer permessage-deflate (--compress, or --compress=takeover to let the server keep its context)")
	mode := fs.String("mode", "echo", "echo, idle (hold connections, report server RSS per connection), handshake (connect rate) or broadcast (ws)")
	fs.DurationVar(&cfg.Hold, "hold", time.Second, "idle mode: how long connections are held before the server is sampled")
	fs.IntVar(&cfg.Stalled, "stalled", 0, "broadcast mode: subscribers that never read")
	fs.IntVar(&cfg.Slow, "slow", 0, "ws echo: extra connections trickling their upgrade request (slowloris)")
	fs.DurationVar(&cfg.SlowInterval, "slow-interval", 100*time.Millisecond, "interval between a slow connection's bytes")
	fs.IntVar(&cfg.Burst, "burst", 0, "idle mode (ws): after the hold, send one message of this many bytes per connection, await the echoes, hold again and sample")
	fs.DurationVar(&cfg.BurstHold, "burst-hold", 0, "idle mode: how long connections idle after the burst before the last sample (default: --hold)")
	fs.StringVar(&cfg.CAFile, "ca", "", "wss: PEM file of CA certificates to trust (default: the system roots)")
	fs.BoolVar(&cfg.Insecure, "insecure", false, "wss: do not verify the server's certificate (loopback benchmarks)")
	fs.StringVar(&cfg.TLSVersion, "tls-version", "", "wss: pin the TLS version, 1.2 or 1.3 (default: negotiated, 1.2 or later)")
	curves := fs.String("tls-curves", "", "wss: comma-separated key exchanges to offer: x25519, p256, p384, p521, x25519mlkem768 (default: crypto/tls's)")
	fs.BoolVar(&cfg.H2, "h2", false, "ws over wss: carry each connection as an HTTP/2 stream (RFC 8441), over --h2-conns shared connections (echo and idle modes)")
	fs.IntVar(&cfg.H2Conns, "h2-conns", 1, "with --h2: the HTTP/2 connections the -c sockets are spread over (1: all streams of one; equal to -c: one each)")
	fs.IntVar(&cfg.ServerPID, "server-pid", 0, "local server process whose CPU time and RSS are sampled from /proc")
	fs.DurationVar(&cfg.DialTimeout, "dial-timeout", 5*time.Second, "bound on each connect and handshake")
	asJSON := fs.Bool("json", false, "print one JSON object instead of the table")
	progress := fs.Bool("progress", false, "print a progress line every second on stderr (default: only when stderr is a terminal)")
	pos, err := fs.parse(args, "PROTOCOL", "TARGET")
	if err != nil {
		return err
	}
	cfg.Proto, cfg.Target = pos[0], pos[1]
	if cfg.Proto != "tcp" && cfg.Proto != "udp" && cfg.Proto != "ws" {
		return fs.fail("unknown protocol %q (want tcp, udp or ws)", cfg.Proto)
	}
	cfg.Mode = loadgen.Mode(*mode)
	cfg.Compress = comp.mode
	if *curves != "" {
		cfg.TLSCurves = strings.Split(*curves, ",")
	}
	if *progress || isTerminal(e.stderr) {
		var mu sync.Mutex
		cfg.Progress = func(p loadgen.Progress) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(e.stderr, "bench: %s\n", p)
		}
	}
	res, err := loadgen.Run(e.ctx, cfg)
	if res == nil {
		return fs.fail("%v", err)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		if res.Connected == 0 {
			return err
		}
		fmt.Fprintf(e.stderr, "netkit bench: %v\n", err)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		return enc.Encode(res)
	}
	printResult(e.stdout, res)
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func describe(r *loadgen.Result) string {
	var parts []string
	parts = append(parts, string(r.Mode))
	if r.Mode == loadgen.ModeEcho || r.Mode == loadgen.ModeBroadcast {
		if r.Rate > 0 {
			parts = append(parts, fmt.Sprintf("%g msgs/s", r.Rate))
		} else {
			parts = append(parts, "closed loop")
		}
	}
	parts = append(parts, fmt.Sprintf("%d conns", r.Conns))
	if r.Mode != loadgen.ModeIdle && r.Mode != loadgen.ModeHandshake {
		kind := ""
		if r.Proto == "ws" {
			kind = " binary"
			if r.Text {
				kind = " text"
			}
		}
		parts = append(parts, fmt.Sprintf("%d B%s", r.Payload, kind))
	}
	if r.Compress != "" {
		parts = append(parts, fmt.Sprintf("deflate %s (accepted: %v)", r.Compress, r.Compressed))
	}
	if r.TLS != "" {
		parts = append(parts, r.TLS)
	}
	if r.H2Conns > 0 {
		parts = append(parts, fmt.Sprintf("HTTP/2, %d connections", r.H2Conns))
	}
	return strings.Join(parts, ", ")
}

func us(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fs", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.2fms", v/1e3)
	default:
		return fmt.Sprintf("%.0fµs", v)
	}
}

func mb(b float64) string { return fmt.Sprintf("%.1f MB", b/1e6) }

// at is "what at Ns", or "not what" for a negative time.
func at(what string, sec float64) string {
	if sec < 0 {
		return "not " + what
	}
	return fmt.Sprintf("%s at %.2fs", what, sec)
}

func printResult(w io.Writer, r *loadgen.Result) {
	fmt.Fprintf(w, "netkit bench %s %s (%s, %.1fs measured)\n", r.Proto, r.Target, describe(r), r.Seconds)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "connections\t%d ok, %d failed\n", r.Connected, r.ConnectErrors)
	switch r.Mode {
	case loadgen.ModeEcho:
		fmt.Fprintf(tw, "messages\tsent %d, received %d, lost %d, errors %d\n", r.Sent, r.Received, r.Lost, r.Errors)
		fmt.Fprintf(tw, "throughput\t%.0f msgs/s, %.2f MB/s\n", r.MsgsPerSec, r.BytesPerSec/1e6)
	case loadgen.ModeBroadcast:
		fmt.Fprintf(tw, "messages\tpublished %d, delivered %d of %d due in the window, errors %d\n", r.Sent, r.Measured, r.Expected, r.Errors)
		fmt.Fprintf(tw, "throughput\t%.0f deliveries/s\n", r.MsgsPerSec)
	case loadgen.ModeHandshake:
		fmt.Fprintf(tw, "handshakes\t%d ok, %d failed, %.0f/s\n", r.Connected, r.ConnectErrors, r.MsgsPerSec)
	}
	if l := r.Latency; l.Count > 0 {
		fmt.Fprintf(tw, "latency\tp50 %s, p90 %s, p99 %s, p99.9 %s, max %s (%d samples)\n",
			us(l.P50), us(l.P90), us(l.P99), us(l.P999), us(l.Max), l.Count)
	}
	if r.SlowOpened > 0 {
		fmt.Fprintf(tw, "slowloris\t%d opened, %d closed by the server", r.SlowOpened, r.SlowClosed)
		if s := r.SlowClose; s != nil {
			fmt.Fprintf(tw, ", after %.1fs (min) %.1fs (median) %.1fs (max)", s.Min, s.P50, s.Max)
		}
		fmt.Fprintln(tw)
	}
	if b := r.Burst; b != nil {
		fmt.Fprintf(tw, "burst\t%d B per connection: %d echoed, %d failed, in %.2fs\n", b.Bytes, b.Echoed, b.Errors, b.Seconds)
	}
	if st := r.Stall; st != nil {
		switch {
		case !st.Checked:
			fmt.Fprintf(tw, "stalled\tnot checked: %s\n", st.Error)
		default:
			for _, c := range st.Conns {
				fmt.Fprintf(tw, "stalled\t%s: %d B due, accepted %d B, server Send-Q up to %d B, %s, %s, server socket %s\n",
					c.Client, c.DueBytes, c.AcceptedMax, c.ServerSendQMax, at("full", c.StalledAt), at("closed by the server", c.ClosedAt), c.ServerState)
			}
			if st.At >= 0 {
				fmt.Fprintf(tw, "others' latency\tp99 %s before the stall (%d), %s after (%d)\n", us(st.Before.P99), st.Before.Count, us(st.After.P99), st.After.Count)
			}
			if st.ServerRSSMax > 0 {
				fmt.Fprintf(tw, "server RSS\t%s at the stall, %s at the end, %s at most\n", mb(float64(st.ServerRSSAtStall)), mb(float64(st.ServerRSSEnd)), mb(float64(st.ServerRSSMax)))
			}
		}
	}
	if s := r.Server; s != nil {
		if s.Error != "" {
			fmt.Fprintf(tw, "server\tpid %d: %s\n", s.PID, s.Error)
		} else {
			per := ""
			if r.Mode != loadgen.ModeIdle {
				per = fmt.Sprintf(", %.0f per CPU-second", s.MsgsPerCPUSecond)
			}
			fmt.Fprintf(tw, "server cpu\t%.2f s (%.0f%% of a core)%s\n", s.CPUSeconds, s.CPUPercent, per)
			fmt.Fprintf(tw, "server memory\tRSS %s -> %s (peak %s), %.1f KB per connection, %d threads, %d fds\n",
				mb(float64(s.Start.RSS)), mb(float64(s.End.RSS)), mb(float64(s.End.HWM)), s.RSSPerConn/1e3, s.End.Threads, s.End.FDs)
			if b := r.Burst; b != nil && b.After.RSS > 0 {
				fmt.Fprintf(tw, "after the burst\tRSS %s (%.1f KB per connection, peak %s); after %.1fs idle %s (%.1f KB per connection)\n",
					mb(float64(b.After.RSS)), b.RSSPerConnAfter/1e3, mb(float64(b.After.HWM)), b.HoldSeconds, mb(float64(b.Settled.RSS)), b.RSSPerConnSettled/1e3)
			}
		}
	}
	if r.FirstError != "" {
		fmt.Fprintf(tw, "first error\t%s\n", r.FirstError)
	}
	tw.Flush()
}
