package loadgen

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func TestSampleProcSelf(t *testing.T) {
	s, err := SampleProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSS <= 0 || s.HWM < s.RSS || s.Threads <= 0 || s.FDs <= 0 || s.CPU < 0 {
		t.Fatalf("sample %+v", s)
	}
	if _, err := SampleProc(-1); err == nil {
		t.Fatal("no error for pid -1")
	}
}

func TestStampRoundTrip(t *testing.T) {
	for _, cfg := range []Config{{Proto: "tcp", Payload: 8}, {Proto: "ws", Payload: 16, Text: true}} {
		r := &run{cfg: cfg, start: time.Now().Add(-time.Hour)}
		msg := makeTemplate(cfg.Payload)
		at := 1234567 * time.Microsecond
		r.stamp(msg, at)
		got, err := r.stampOf(msg)
		if err != nil || got != at {
			t.Errorf("%+v: stamped %v, read %v, %v", cfg, at, got, err)
		}
		if _, err := r.stampOf(msg[:len(msg)-1]); err == nil {
			t.Errorf("%+v: short echo accepted", cfg)
		}
		r.stamp(msg, 2*time.Hour) // in the future: corrupt
		if _, err := r.stampOf(msg); err == nil {
			t.Errorf("%+v: future timestamp accepted", cfg)
		}
	}
}

func TestParseWSTarget(t *testing.T) {
	for in, want := range map[string]wsTarget{
		"127.0.0.1:80":            {"127.0.0.1:80", "/", false},
		"ws://127.0.0.1:80/a?b=c": {"127.0.0.1:80", "/a?b=c", false},
		"ws://[::1]:9000":         {"[::1]:9000", "/", false},
		"wss://localhost:8443/ws": {"localhost:8443", "/ws", true},
	} {
		got, err := parseWSTarget(in)
		if err != nil || got != want {
			t.Errorf("%q: %+v, %v", in, got, err)
		}
	}
	for _, in := range []string{"https://127.0.0.1:1/", "ws://127.0.0.1/", "wss://127.0.0.1/"} {
		if _, err := parseWSTarget(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{
		{},
		{Proto: "tcp"},
		{Proto: "udp", Target: "x:1", Mode: ModeIdle},
		{Proto: "tcp", Target: "x:1", Payload: 7},
		{Proto: "ws", Target: "x:1", Payload: 10, Text: true},
		{Proto: "tcp", Target: "x:1", Compress: CompressTakeover},
		{Proto: "ws", Target: "x:1", Mode: ModeBroadcast, Conns: 2, Stalled: 2},
		{Proto: "tcp", Target: "x:1", Rate: -1},
		{Proto: "ws", Target: "ws://x:1/", Insecure: true},
		{Proto: "ws", Target: "wss://x:1/", TLSVersion: "1.1"},
		{Proto: "ws", Target: "wss://x:1/", TLSCurves: []string{"p999"}},
		{Proto: "ws", Target: "wss://x:1/", CAFile: "/nonexistent/ca.pem"},
		{Proto: "ws", Target: "ws://x:1/", Burst: 1 << 20},
		{Proto: "ws", Target: "ws://x:1/", Mode: ModeIdle, Burst: 4},
		{Proto: "ws", Target: "ws://x:1/", Mode: ModeIdle, Burst: 1 << 20, Compress: CompressNoTakeover},
	} {
		if _, err := Run(context.Background(), c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// TestCancel checks that a run stops promptly when its context ends.
func TestCancel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil { // never answers
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := Run(ctx, Config{Proto: "tcp", Target: ln.Addr().String(), Duration: time.Minute})
	if err == nil || res == nil {
		t.Fatalf("cancelled run: %v", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("cancelled run took %v", el)
	}
	if res.Sent != 1 || res.Received != 0 {
		t.Errorf("sent %d received %d", res.Sent, res.Received)
	}
	ln.Close()
	<-done
}
