package websocket_test

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/tcp"
	"github.com/netkit-go/netkit/tlsconfig"
	"github.com/netkit-go/netkit/websocket"
)

// Measurements of the lifecycle (issue 11's acceptance 3). They are not
// tests with a time limit: each runs once, bounded in size, when
// NETKIT_MEASURE=1, and logs its figures (go test -run Measure -v).

func measuring(t *testing.T) {
	if os.Getenv("NETKIT_MEASURE") == "" {
		t.Skip("set NETKIT_MEASURE=1 to run the lifecycle measurements")
	}
}

func startTCPEcho(t *testing.T, cfg *tcp.ListenerConfig, svc tcp.ConnectionService) *tcp.Listener {
	t.Helper()
	if cfg == nil {
		cfg = &tcp.ListenerConfig{}
	}
	cfg.Logger = quietLogger
	tl, err := tcp.NewListener(0, cfg)
	if err != nil {
		t.Fatal(err)
	}
	tl.Attach(tcp.ServiceFunc(func(*tcp.Caller) (tcp.ConnectionService, error) { return svc, nil }))
	if err := tl.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tl.ImmediateStop() })
	return tl
}

// An idle flood of the WebSocket port fills its MaxConnections and waits in
// the backlog; the tcp face of the same process accepts meanwhile.
func TestMeasureFloodOneFaceAcceptOther(t *testing.T) {
	measuring(t)
	const limit, flood = 500, 1500
	l := serve(t, "/ws", websocket.Static(websocket.Echo), nil, &websocket.ListenerConfig{MaxConnections: limit})
	tl := startTCPEcho(t, nil, echoTCP{})
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range flood {
		c, err := net.Dial("tcp", addrOf(l))
		if err != nil {
			t.Logf("flood dial: %v", err)
			break
		}
		conns = append(conns, c)
	}
	waitFor(t, "the cap", func() bool { return l.Len() == limit })
	var lat []time.Duration
	for range 20 {
		start := time.Now()
		c, err := net.Dial("tcp", tl.Addr().String())
		if err != nil {
			t.Fatalf("tcp face during the flood: %v", err)
		}
		c.Write([]byte("ping"))
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatalf("tcp echo during the flood: %v", err)
		}
		lat = append(lat, time.Since(start))
		c.Close()
	}
	slices.Sort(lat)
	t.Logf("flood: %d idle conns to ws (MaxConnections %d): ws Len %d; tcp face: 20/20 connect+echo, median %v, max %v",
		len(conns), limit, l.Len(), lat[len(lat)/2], lat[len(lat)-1])
}

// Silent wss clients are dropped at HandshakeTimeout.
func TestMeasureSilentWSSDropped(t *testing.T) {
	measuring(t)
	certs := netkittest.NewCertificates(t)
	const hs, n = time.Second, 200
	l := serve(t, "/ws", websocket.Static(websocket.Echo), nil, &websocket.ListenerConfig{
		SecureSocket: &tlsconfig.ListenerSecureSocket{
			CertKey:          &tlsconfig.CertKey{CertFile: certs.ServerCert, KeyFile: certs.ServerKey},
			HandshakeTimeout: hs,
		},
	})
	var wg sync.WaitGroup
	drops := make([]time.Duration, n)
	for i := range n {
		c, err := net.Dial("tcp", addrOf(l))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			io.Copy(io.Discard, c)
			drops[i] = time.Since(start)
		}()
	}
	wg.Wait()
	slices.Sort(drops)
	t.Logf("%d silent wss clients, HandshakeTimeout %v: dropped after min %v, median %v, max %v; Len after: %d",
		n, hs, drops[0], drops[n/2], drops[n-1], l.Len())
}

// countTCP counts the bytes OnBytes took; each is echoed.
type countTCP struct{ accepted, failed *atomic.Int64 }

func (s countTCP) OnBytes(c *tcp.Caller, p []byte) ([]byte, error) {
	s.accepted.Add(int64(len(p)))
	if err := c.WriteBytes(context.Background(), p); err != nil {
		s.failed.Add(int64(len(p)))
	}
	return nil, nil
}

// 20 graceful stops of 200 WebSocket and 200 TCP clients in flight: every
// message a callback took is answered.
func TestMeasureGracefulStopsUnderLoad(t *testing.T) {
	measuring(t)
	const rounds, clients = 20, 200
	var lostWS, lostTCP, acceptedWS, acceptedTCP int64
	var durs []time.Duration
	for round := range rounds {
		load := &stopLoad{}
		l := serve(t, "/ws", load.service(), nil, nil)
		var tAcc, tFail atomic.Int64
		tl := startTCPEcho(t, nil, countTCP{&tAcc, &tFail})
		// Every client connects before any sends (busy senders would starve
		// the dials on 2 cores).
		var tRecv atomic.Int64
		var wg sync.WaitGroup
		var tcs []net.Conn
		for range clients {
			c, err := net.Dial("tcp", tl.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			tcs = append(tcs, c)
		}
		waitWS := runClients(t, wsURL(l, "/ws"), clients, 100000)
		for _, c := range tcs {
			wg.Add(2)
			win, done := make(chan struct{}, 16), make(chan struct{})
			go func() {
				defer wg.Done()
				msg := bytes.Repeat([]byte("m"), 64)
				for range 100000 {
					select {
					case win <- struct{}{}:
					case <-done:
						return
					}
					if _, err := c.Write(msg); err != nil {
						return
					}
				}
			}()
			go func() {
				defer wg.Done()
				defer close(done)
				defer c.Close()
				c.SetReadDeadline(time.Now().Add(60 * time.Second))
				buf := make([]byte, 4096)
				var got int
				for {
					n, err := c.Read(buf)
					tRecv.Add(int64(n))
					for got += n; got >= 64; got -= 64 {
						select {
						case <-win:
						default:
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
		for load.accepted.Load() < 2000 || tAcc.Load() < 2000*64 {
			time.Sleep(time.Millisecond) // polling a count
		}
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		errs := make(chan error, 2)
		go func() { errs <- l.GracefulStop(ctx) }()
		go func() { errs <- tl.GracefulStop(ctx) }()
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		cancel()
		durs = append(durs, time.Since(start))
		gotWS := waitWS()
		wg.Wait()
		lostWS += load.accepted.Load() - gotWS + load.failed.Load()
		lostTCP += tAcc.Load() - tRecv.Load() + tFail.Load()
		acceptedWS += load.accepted.Load()
		acceptedTCP += tAcc.Load()
	}
	slices.Sort(durs)
	t.Logf("%d graceful stops, %d ws + %d tcp clients each: ws %d messages accepted, %d unanswered; tcp %d bytes accepted, %d unanswered; stop took median %v, max %v",
		rounds, clients, clients, acceptedWS, lostWS, acceptedTCP, lostTCP, durs[len(durs)/2], durs[len(durs)-1])
	if lostWS != 0 || lostTCP != 0 {
		t.Fatal("accepted messages lost")
	}
}

// GracefulStop with a 200 ms ctx and a stuck callback.
func TestMeasureGracefulStopStuckCallback(t *testing.T) {
	measuring(t)
	release := make(chan struct{})
	defer close(release)
	entered := make(chan struct{}, 2)
	up := websocket.Static(&websocket.ServiceFuncs{OnTextMessage: func(c *websocket.Conn, text []byte) error {
		entered <- struct{}{}
		<-release
		return nil
	}})
	l := serve(t, "/ws", up, nil, nil)
	c := dialWS(t, addrOf(l), "/ws", nil)
	c.sendText("stuck")
	<-entered
	tl := startTCPEcho(t, nil, stuckTCP{entered, release})
	tc, err := net.Dial("tcp", tl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	tc.Write([]byte("x"))
	<-entered
	for _, stop := range []struct {
		name string
		f    func(context.Context) error
	}{{"websocket", l.GracefulStop}, {"tcp", tl.GracefulStop}} {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		start := time.Now()
		err := stop.f(ctx)
		d := time.Since(start)
		cancel()
		t.Logf("%s GracefulStop(200 ms ctx) with a stuck callback returned %v after %v", stop.name, err, d)
	}
}

type stuckTCP struct {
	entered chan struct{}
	release chan struct{}
}

func (s stuckTCP) OnBytes(*tcp.Caller, []byte) ([]byte, error) {
	s.entered <- struct{}{}
	<-s.release
	return nil, nil
}

// Peak heap while 8 deflate bombs (1 GiB of zeros, about 1 MB compressed)
// hit a 16 MiB message limit at once.
func TestMeasureDeflateBombs(t *testing.T) {
	measuring(t)
	const n = 8
	var zb bytes.Buffer
	w, _ := flate.NewWriter(&zb, flate.BestCompression)
	zero := make([]byte, 1<<20)
	for range 1024 {
		w.Write(zero)
	}
	w.Flush()
	payload := bytes.TrimSuffix(zb.Bytes(), []byte{0, 0, 0xff, 0xff})
	closed := make(chan int, n)
	up := websocket.Static(&websocket.ServiceFuncs{
		OnBinaryMessage: func(c *websocket.Conn, data []byte) error { return nil },
		OnClose:         func(c *websocket.Conn, code int, reason string) { closed <- code },
	})
	l := serve(t, "/ws", up, nil, nil)
	var clients []*rawClient
	for range n {
		c := dialWS(t, addrOf(l), "/ws", map[string][]string{"Sec-WebSocket-Extensions": {"permessage-deflate"}})
		if !c.deflate {
			t.Fatal("permessage-deflate not negotiated")
		}
		clients = append(clients, c)
	}
	frames := make([][]byte, n)
	for i := range frames {
		frames[i] = maskedFrame(0x40|0x2, payload)
	}
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			default:
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			time.Sleep(2 * time.Millisecond) // sampling period
		}
	}()
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() { defer wg.Done(); c.nc.Write(frames[i]) }()
	}
	wg.Wait()
	for range n {
		if code := <-closed; code != 1009 {
			t.Errorf("bomb closed with %d, want 1009", code)
		}
	}
	close(stop)
	<-sampled
	t.Logf("%d concurrent deflate bombs (%d KB inflating to 1 GiB each, 16 MiB limit): peak heap in use %d MB above the %d MB baseline (%.1f MB per bomb)",
		n, len(payload)>>10, (peak.Load()-base.HeapInuse)>>20, base.HeapInuse>>20, float64(peak.Load()-base.HeapInuse)/n/(1<<20))
}

// maskedFrame is a client frame (fin set) with first byte bits b0 (RSV and
// opcode) carrying payload, masked with a zero key.
func maskedFrame(b0 byte, payload []byte) []byte {
	h := []byte{0x80 | b0}
	switch n := len(payload); {
	case n < 126:
		h = append(h, 0x80|byte(n))
	case n < 1<<16:
		h = append(h, 0x80|126, byte(n>>8), byte(n))
	default:
		h = append(h, 0x80|127)
		h = binary.BigEndian.AppendUint64(h, uint64(n))
	}
	h = append(h, 0, 0, 0, 0) // a zero mask leaves the payload as it is
	return append(h, payload...)
}
