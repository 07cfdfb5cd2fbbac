package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/loadgen"
	"github.com/netkit-go/netkit/internal/wstest"
	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/tcp"
	"github.com/netkit-go/netkit/udp"
)

// runBench runs `netkit bench ARGS --json` and decodes the summary.
func runBench(t *testing.T, args ...string) *loadgen.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	args = append([]string{"bench"}, append(args, "--json", "--server-pid", strconv.Itoa(os.Getpid()))...)
	if err := Run(ctx, args, nil, &out, &errOut); err != nil {
		t.Fatalf("netkit %s: %v\nstderr: %s", strings.Join(args, " "), err, errOut.String())
	}
	var res loadgen.Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("output %q: %v", out.String(), err)
	}
	return &res
}

// checkCounts checks that exactly n messages went out and came back.
func checkCounts(t *testing.T, r *loadgen.Result, conns, n int) {
	t.Helper()
	if r.Connected != int64(conns) || r.ConnectErrors != 0 {
		t.Errorf("connected %d (errors %d), want %d", r.Connected, r.ConnectErrors, conns)
	}
	if r.Sent != int64(n) || r.Received != int64(n) || r.Lost != 0 || r.Errors != 0 {
		t.Errorf("sent %d received %d lost %d errors %d, want %d, %d, 0, 0 (first error %q)",
			r.Sent, r.Received, r.Lost, r.Errors, n, n, r.FirstError)
	}
	if r.Latency.Count != int64(n) || r.Latency.P50 <= 0 || r.Latency.P50 > r.Latency.P99 || r.Latency.P99 > r.Latency.Max {
		t.Errorf("latency %+v for %d messages", r.Latency, n)
	}
	if r.MsgsPerSec <= 0 {
		t.Errorf("throughput %v", r.MsgsPerSec)
	}
	if r.Server == nil || r.Server.Error != "" || r.Server.End.RSS <= 0 || r.Server.End.CPU < r.Server.Start.CPU {
		t.Errorf("server sample %+v", r.Server)
	}
}

func startNetkitTCPEcho(t *testing.T) string {
	t.Helper()
	l, err := tcp.NewListener(0, &tcp.ListenerConfig{LocalHost: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Attach(tcp.ServiceFunc(func(c *tcp.Caller) (tcp.ConnectionService, error) {
		return benchEcho{}, nil
	})); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.ImmediateStop() })
	return l.Addr().String()
}

type benchEcho struct{}

func (benchEcho) OnBytes(c *tcp.Caller, data []byte) ([]byte, error) { return data, nil }

// startPlainTCPEcho is a std-net echo server: one goroutine per connection.
func startPlainTCPEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				io.Copy(c, c)
				c.Close()
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func TestBenchTCPNetkitClosedLoop(t *testing.T) {
	addr := startNetkitTCPEcho(t)
	r := runBench(t, "tcp", addr, "-c", "4", "-s", "256", "-n", "2000", "-d", "20s")
	checkCounts(t, r, 4, 2000)
	if r.Seconds >= 20 {
		t.Errorf("the window did not end at the message cap: %vs", r.Seconds)
	}
}

func TestBenchTCPPlainFixedRate(t *testing.T) {
	addr := startPlainTCPEcho(t)
	// Flags after the target work too.
	r := runBench(t, "tcp", addr, "-c", "5", "-s", "100", "--rate", "5000", "-n", "500", "-d", "20s")
	checkCounts(t, r, 5, 500)
	// 500 messages at 5000/s take about 0.1 s.
	if r.Seconds > 5 {
		t.Errorf("fixed rate run took %vs", r.Seconds)
	}
}

func TestBenchTCPDurationBound(t *testing.T) {
	addr := startPlainTCPEcho(t)
	start := time.Now()
	r := runBench(t, "tcp", "-d", "300ms", "-c", "2", addr)
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("a 300 ms run took %v", el)
	}
	if r.Sent == 0 || r.Sent != r.Received || r.Errors != 0 {
		t.Errorf("sent %d received %d errors %d (%s)", r.Sent, r.Received, r.Errors, r.FirstError)
	}
}

func TestBenchUDP(t *testing.T) {
	l, err := udp.NewListener(0, &udp.ListenerConfig{LocalHost: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Attach(udp.Echo); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	defer l.ImmediateStop()
	r := runBench(t, "udp", l.Addr().String(), "-c", "3", "-s", "512", "-n", "900", "-d", "20s")
	checkCounts(t, r, 3, 900)

	// A plain net.UDPConn echo.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
	defer func() { pc.Close(); <-done }()
	r = runBench(t, "udp", pc.LocalAddr().String(), "-c", "2", "-s", "64", "--rate", "4000", "-n", "400", "-d", "20s")
	checkCounts(t, r, 2, 400)
}

func TestBenchWS(t *testing.T) {
	url := wstest.Start(t, wstest.Options{Deflate: true})
	t.Run("binary", func(t *testing.T) {
		r := runBench(t, "ws", url, "-c", "4", "-s", "1024", "-n", "1000", "-d", "20s")
		checkCounts(t, r, 4, 1000)
	})
	t.Run("text-fixed-rate", func(t *testing.T) {
		r := runBench(t, "ws", url, "-c", "3", "-s", "200", "--text", "--rate", "3000", "-n", "300", "-d", "20s")
		checkCounts(t, r, 3, 300)
	})
	t.Run("compressed", func(t *testing.T) {
		r := runBench(t, "ws", url, "-c", "2", "-s", "1024", "--text", "--compress", "-n", "400", "-d", "20s")
		checkCounts(t, r, 2, 400)
		if !r.Compressed {
			t.Error("permessage-deflate was not negotiated")
		}
	})
	t.Run("idle", func(t *testing.T) {
		r := runBench(t, "ws", url, "--mode", "idle", "-c", "20", "--hold", "50ms")
		if r.Connected != 20 || r.ConnectErrors != 0 || r.Server == nil || r.Server.End.FDs < 20 {
			t.Errorf("idle: %+v server %+v", r, r.Server)
		}
	})
	t.Run("handshake", func(t *testing.T) {
		r := runBench(t, "ws", url, "--mode", "handshake", "-c", "2", "-n", "50", "-d", "20s")
		if r.Connected != 50 || r.ConnectErrors != 0 || r.Latency.Count != 50 {
			t.Errorf("handshakes %d (errors %d, %q), latency samples %d", r.Connected, r.ConnectErrors, r.FirstError, r.Latency.Count)
		}
	})
}

func TestBenchWSS(t *testing.T) {
	certs := netkittest.NewCertificates(t)
	url := wstest.Start(t, wstest.Options{Deflate: true, Certificate: &certs.Server})
	t.Run("echo", func(t *testing.T) {
		r := runBench(t, "ws", url, "--ca", certs.CACert, "--tls-version", "1.3", "--tls-curves", "x25519", "-c", "2", "-s", "512", "-n", "200", "-d", "20s")
		checkCounts(t, r, 2, 200)
		if !strings.HasPrefix(r.TLS, "TLS 1.3 TLS_") || !strings.HasSuffix(r.TLS, " X25519") {
			t.Errorf("TLS %q", r.TLS)
		}
	})
	t.Run("idle-burst", func(t *testing.T) {
		r := runBench(t, "ws", url, "--insecure", "--mode", "idle", "-c", "3", "--hold", "20ms", "--burst", "65536", "--burst-hold", "20ms", "-d", "20s")
		if r.Connected != 3 || r.Burst == nil || r.Burst.Echoed != 3 || r.Burst.Errors != 0 || r.Burst.Settled.RSS <= 0 {
			t.Errorf("idle burst: connected %d, burst %+v (%s)", r.Connected, r.Burst, r.FirstError)
		}
	})
}

func TestBenchWSBroadcast(t *testing.T) {
	url := wstest.Start(t, wstest.Options{Broadcast: true, Deflate: true})
	r := runBench(t, "ws", url, "--mode", "broadcast", "-c", "10", "--rate", "200", "-n", "40", "-d", "20s")
	if r.Sent != 40 || r.Expected != 10*40 || r.Measured != 10*40 || r.Errors != 0 {
		t.Errorf("published %d, delivered %d of %d, errors %d (%s)", r.Sent, r.Measured, r.Expected, r.Errors, r.FirstError)
	}
}

func TestBenchUsage(t *testing.T) {
	for _, args := range [][]string{
		{"bench"},
		{"bench", "sctp", "127.0.0.1:1"},
		{"bench", "tcp"},
		{"bench", "tcp", "127.0.0.1:1", "extra"},
		{"bench", "udp", "-s", "4", "127.0.0.1:1"},
		{"bench", "tcp", "--mode", "broadcast", "127.0.0.1:1"},
		{"bench", "ws", "--insecure", "ws://127.0.0.1:1/"},
		{"bench", "ws", "--tls-version", "1.0", "wss://127.0.0.1:1/"},
	} {
		var out, errOut bytes.Buffer
		err := Run(context.Background(), args, nil, &out, &errOut)
		if !errors.Is(err, ErrUsage) {
			t.Errorf("%q: %v", args, err)
		}
		if out.Len() != 0 {
			t.Errorf("%q printed %q on stdout", args, out.String())
		}
	}
}

func TestBenchTable(t *testing.T) {
	addr := startPlainTCPEcho(t)
	var out, errOut bytes.Buffer
	if err := Run(context.Background(), []string{"bench", "tcp", addr, "-n", "100", "-d", "10s", "--progress"}, nil, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"sent 100, received 100, lost 0, errors 0", "throughput", "latency", "p99.9"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestBenchNoServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var out, errOut bytes.Buffer
	err = Run(context.Background(), []string{"bench", "tcp", addr, "-d", "1s"}, nil, &out, &errOut)
	if err == nil || errors.Is(err, ErrUsage) {
		t.Fatalf("no server: %v", err)
	}
}

// TestBenchWSH2: --h2 carries the sockets as RFC 8441 streams of a netkit
// TLS Listener, over one shared connection or one each; echo, compressed
// echo and idle modes. Without HTTP/2 on the server it fails clearly.
func TestBenchWSH2(t *testing.T) {
	url := wssTestServer(t, false)
	for _, n := range []string{"1", "4"} {
		t.Run("echo-conns-"+n, func(t *testing.T) {
			r := runBench(t, "ws", url, "--insecure", "--h2", "--h2-conns", n, "-c", "4", "-s", "1024", "-n", "800", "-d", "20s")
			checkCounts(t, r, 4, 800)
			if want, _ := strconv.Atoi(n); r.H2Conns != want {
				t.Errorf("h2_conns %d, want %d", r.H2Conns, want)
			}
		})
	}
	t.Run("compressed", func(t *testing.T) {
		r := runBench(t, "ws", url, "--insecure", "--h2", "-c", "2", "-s", "1024", "--text", "--compress", "-n", "200", "-d", "20s")
		checkCounts(t, r, 2, 200)
		if !r.Compressed {
			t.Error("permessage-deflate was not negotiated")
		}
	})
	t.Run("idle", func(t *testing.T) {
		r := runBench(t, "ws", url, "--insecure", "--h2", "--mode", "idle", "-c", "20", "--hold", "50ms")
		if r.Connected != 20 || r.ConnectErrors != 0 || r.Server == nil {
			t.Errorf("idle: %+v server %+v", r, r.Server)
		}
	})
	t.Run("no-h2", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var out, errOut bytes.Buffer
		err := Run(ctx, []string{"bench", "ws", wssTestServer(t, true), "--insecure", "--h2", "-c", "1", "-n", "10", "-d", "2s"}, nil, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), `ALPN chose "http/1.1"`) {
			t.Errorf("against an HTTP/1.1-only server: %v", err)
		}
	})
}
