package websocket_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"iter"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/tcp"
	"github.com/netkit-go/netkit/tlsconfig"
	"github.com/netkit-go/netkit/websocket"
)

// Tests of the listener's lifecycle, which the engine owns from accept to
// close: graceful stops under load, MaxConnections, handshake deadlines.

// stopLoad runs clients that send without waiting for replies and counts
// the replies, against a server that counts the messages its callback
// took and the echoes that failed; then it stops the listener gracefully.
// Every message the callback took must be answered.
type stopLoad struct {
	accepted, failed atomic.Int64
}

func (s *stopLoad) service() websocket.UpgradeService {
	return websocket.Static(&websocket.ServiceFuncs{OnTextMessage: func(c *websocket.Conn, text []byte) error {
		s.accepted.Add(1)
		if err := c.WriteTextMessage(context.Background(), text); err != nil {
			s.failed.Add(1)
		}
		return nil
	}})
}

// runClients starts n clients that each send up to max messages as fast
// as they can until the server's close, and returns a func that waits for
// them and reports the replies received.
func runClients(t *testing.T, url string, n, max int) func() int64 {
	t.Helper()
	return runClientsSending(t, url, n, max, []byte("message"))
}

// runClientsSending is runClients with msg as every client's message.
func runClientsSending(t *testing.T, url string, n, max int, msg []byte) func() int64 {
	t.Helper()
	var received atomic.Int64
	var wg sync.WaitGroup
	ctx := testCtx(t)
	var clients []*websocket.Client
	for range n { // every client connects before any sends
		c, err := websocket.Dial(ctx, url, &websocket.ClientConfig{Compression: websocket.CompressionConfig{Disable: true}})
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	for _, c := range clients {
		wg.Add(2)
		// At most 16 messages in flight per client: senders block instead
		// of spinning, so a few cores serve hundreds of clients.
		win, done := make(chan struct{}, 16), make(chan struct{})
		go func() {
			defer wg.Done()
			for range max {
				select {
				case win <- struct{}{}:
				case <-done:
					return
				}
				if c.WriteTextMessage(ctx, msg) != nil {
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			defer close(done)
			defer c.Close(ctx, 1000, "")
			for {
				if _, _, err := c.Read(ctx, nil); err != nil {
					return
				}
				received.Add(1)
				select {
				case <-win:
				default:
				}
			}
		}()
	}
	return func() int64 { wg.Wait(); return received.Load() }
}

// A graceful stop lets running callbacks finish and their replies go out,
// then sends 1001 from each connection's own goroutine: no message that
// reached OnTextMessage is left unanswered. (Before, 1001 was sent from
// another goroutine while callbacks ran, and 2 of 5 stops lost a reply
// with "Close frame already sent".)
func TestGracefulStopAnswersEveryAcceptedMessage(t *testing.T) {
	for round := range 5 {
		load := &stopLoad{}
		l := serve(t, "/ws", load.service(), nil, nil)
		wait := runClients(t, wsURL(l, "/ws"), 20, 2000)
		// Stop while messages are in flight.
		for load.accepted.Load() < 200 {
			time.Sleep(time.Millisecond) // polling a count, not synchronising
		}
		if err := l.GracefulStop(testCtx(t)); err != nil {
			t.Fatalf("round %d: GracefulStop: %v", round, err)
		}
		got := wait()
		if f := load.failed.Load(); f != 0 {
			t.Fatalf("round %d: %d echoes of accepted messages failed", round, f)
		}
		if a := load.accepted.Load(); got != a {
			t.Fatalf("round %d: %d messages accepted, %d replies received", round, a, got)
		}
	}
}

// stopDispatch is a data-bound, custom-dispatched service whose replies
// are return values: OnEcho returns a stream of two texts.
type stopDispatch struct {
	accepted, failed atomic.Int64
}

type echoEvent struct {
	Event string `json:"event"`
	N     int    `json:"n"`
}

func (s *stopDispatch) OnEcho(c *websocket.Conn, m echoEvent) (iter.Seq[string], error) {
	s.accepted.Add(1)
	return func(yield func(string) bool) {
		_ = yield("one") && yield("two")
	}, nil
}

func (s *stopDispatch) OnError(c *websocket.Conn, err error) {
	if errors.Is(err, websocket.ErrReturnValue) {
		s.failed.Add(1)
	}
}

// The engine's Stopping hook and the typed dispatch coexist: a graceful
// stop under load lets a custom-dispatched callback's streamed return
// values go out before 1001; every message that reached OnEcho gets both
// replies.
func TestGracefulStopAnswersEveryDispatchedMessage(t *testing.T) {
	for round := range 3 {
		svc := &stopDispatch{}
		l := serve(t, "/ws", websocket.Static(svc), &websocket.ServiceConfig{DispatcherKey: "event"}, nil)
		wait := runClientsSending(t, wsURL(l, "/ws"), 10, 2000, []byte(`{"event":"echo","n":1}`))
		for svc.accepted.Load() < 100 {
			time.Sleep(time.Millisecond) // polling a count, not synchronising
		}
		if err := l.GracefulStop(testCtx(t)); err != nil {
			t.Fatalf("round %d: GracefulStop: %v", round, err)
		}
		got := wait()
		if f := svc.failed.Load(); f != 0 {
			t.Fatalf("round %d: %d returned values of accepted messages failed", round, f)
		}
		if a := svc.accepted.Load(); got != 2*a {
			t.Fatalf("round %d: %d messages accepted, %d replies received (want %d)", round, a, got, 2*a)
		}
		t.Logf("round %d: %d of %d messages reached OnEcho before the stop", round, svc.accepted.Load(), 10*2000)
	}
}

// The listener's connections count against MaxConnections from accept,
// before the HTTP request is read: a flood of idle connections fills the
// cap and waits in the kernel's backlog, holding no descriptor of ours,
// while a tcp listener in the same process still accepts. A slot that
// frees up is taken by the next connection.
func TestListenerMaxConnectionsCountsBeforeTheRequest(t *testing.T) {
	l := serve(t, "/ws", websocket.Static(websocket.Echo), nil, &websocket.ListenerConfig{MaxConnections: 4})
	var idle []net.Conn
	for range 20 {
		c, err := net.Dial("tcp", addrOf(l))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	waitFor(t, "4 accepted", func() bool { return l.Len() == 4 })
	// The tcp face of the same process accepts.
	tl, err := tcp.NewListener(0, &tcp.ListenerConfig{Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	tl.Attach(tcp.ServiceFunc(func(*tcp.Caller) (tcp.ConnectionService, error) { return echoTCP{}, nil }))
	if err := tl.Start(); err != nil {
		t.Fatal(err)
	}
	defer tl.ImmediateStop()
	tc, err := net.Dial("tcp", tl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	tc.Write([]byte("ping"))
	tc.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(tc, buf); err != nil {
		t.Fatalf("tcp face during the flood: %v", err)
	}
	if n := l.Len(); n != 4 {
		t.Fatalf("Len %d over MaxConnections 4", n)
	}
	// Freeing a slot lets a waiting connection in.
	idle[0].Close()
	waitFor(t, "the slot taken again", func() bool { return l.Len() == 4 })
}

type echoTCP struct{}

func (echoTCP) OnBytes(_ *tcp.Caller, p []byte) ([]byte, error) { return p, nil }

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond) // polling a count, not synchronising
	}
}

// A wss client that stays silent, or sends part of a ClientHello, is
// dropped at SecureSocket.HandshakeTimeout; one that completes the TLS
// handshake and then sends no request is dropped at Timeout. (Before, the
// HTTP timeouts decided: 120 s, and HandshakeTimeout was ignored.)
func TestWSSHandshakeTimeouts(t *testing.T) {
	certs := netkittest.NewCertificates(t)
	secure := func(hs, timeout time.Duration) *websocket.Listener {
		return serve(t, "/ws", websocket.Static(websocket.Echo), nil, &websocket.ListenerConfig{
			SecureSocket: &tlsconfig.ListenerSecureSocket{
				CertKey:          &tlsconfig.CertKey{CertFile: certs.ServerCert, KeyFile: certs.ServerKey},
				HandshakeTimeout: hs,
			},
			Timeout: timeout,
		})
	}
	// The upgrade Timeout is left at its default: only HandshakeTimeout
	// can drop these within the test's bound.
	l := secure(200*time.Millisecond, 0)
	expectDropped := func(name string, c net.Conn) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := io.ReadAll(c)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%s: not dropped within 10 s", name)
		}
		c.Close()
	}
	silent, err := net.Dial("tcp", addrOf(l))
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	start := time.Now()
	expectDropped("silent client", silent)
	t.Logf("silent client dropped after %v (HandshakeTimeout 200ms)", time.Since(start))

	partial, err := net.Dial("tcp", addrOf(l))
	if err != nil {
		t.Fatal(err)
	}
	defer partial.Close()
	partial.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01}) // a ClientHello's start
	expectDropped("partial ClientHello", partial)

	waitFor(t, "every connection gone", func() bool { return l.Len() == 0 })

	l2 := secure(0, 300*time.Millisecond)
	tc, err := tls.Dial("tcp", addrOf(l2), &tls.Config{RootCAs: certs.CAPool, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	expectDropped("no request after the TLS handshake", tc)
}

// A plain client that never completes its request is dropped at Timeout
// (10 s by default, no longer 120 s).
func TestUpgradeTimeoutDefault(t *testing.T) {
	if websocket.DefaultUpgradeTimeout != 10*time.Second {
		t.Fatalf("DefaultUpgradeTimeout %v, want 10s", websocket.DefaultUpgradeTimeout)
	}
	l := serve(t, "/ws", websocket.Static(websocket.Echo), nil, &websocket.ListenerConfig{Timeout: 200 * time.Millisecond})
	c, err := net.Dial("tcp", addrOf(l))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET /ws HTTP/1.1\r\nHost: x\r\n")) // and nothing more
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("trickling request not dropped at Timeout")
		}
	}
}

// Addr still reports the bound address after a stop.
func TestListenerAddrAfterStop(t *testing.T) {
	l := serve(t, "/ws", websocket.Static(websocket.Echo), nil, nil)
	addr := addrOf(l)
	l.ImmediateStop()
	if a := l.Addr(); a == nil || a.String() != addr {
		t.Fatalf("Addr after stop: %v, want %s", a, addr)
	}
}

// A Handler's stop goes through the engine too: 1001 after the reply of
// the running callback, from the connection's own goroutine.
func TestHandlerStopAfterRunningCallback(t *testing.T) {
	entered, release := make(chan struct{}, 1), make(chan struct{})
	up := websocket.Static(&websocket.ServiceFuncs{OnTextMessage: func(c *websocket.Conn, text []byte) error {
		if string(text) == "slow" {
			entered <- struct{}{}
			<-release
		}
		return c.WriteTextMessage(context.Background(), text)
	}})
	l := serve(t, "/ws", up, nil, nil)
	c := dialWS(t, addrOf(l), "/ws", nil)
	c.sendText("slow")
	<-entered
	stopped := make(chan error, 1)
	go func() { stopped <- l.GracefulStop(testCtx(t)) }()
	close(release)
	c.expectMessage(opText, []byte("slow"))
	c.expectClose(1001)
	if err := recv(t, stopped); err != nil {
		t.Fatal(err)
	}
}

// After echoing the server's close, the client waits for the server to
// close the TCP connection (RFC 6455 §7.1.1) instead of closing first:
// the pull Client and the callback AsyncClient alike, also with Retry and
// keepalive (a normal close is not redialed, and no ping follows the echo).
func TestClientLetsTheServerCloseFirst(t *testing.T) {
	retry := &websocket.ClientConfig{
		Retry:        &websocket.RetryConfig{MaxCount: 3, Interval: 10 * time.Millisecond},
		PingInterval: 20 * time.Millisecond,
	}
	t.Run("Client", func(t *testing.T) { testClientLetsTheServerCloseFirst(t, false, nil) })
	t.Run("AsyncClient", func(t *testing.T) { testClientLetsTheServerCloseFirst(t, true, nil) })
	t.Run("ClientRetryKeepalive", func(t *testing.T) { testClientLetsTheServerCloseFirst(t, false, retry) })
	t.Run("AsyncClientRetryKeepalive", func(t *testing.T) { testClientLetsTheServerCloseFirst(t, true, retry) })
}

func testClientLetsTheServerCloseFirst(t *testing.T, async bool, cfg *websocket.ClientConfig) {
	sawEarlyEOF := make(chan bool, 1)
	var conns atomic.Int32
	srv := clNewRawServer(t, func(rc *clRawConn) {
		if conns.Add(1) > 1 {
			t.Error("the client redialed after a normal close")
			return
		}
		rc.writeFrame(true, 0, 0x8, clClosePayload(1000, "bye"), false)
		if code := rc.readClose(); code != 1000 {
			t.Errorf("echo %d", code)
		}
		// The client must not send its FIN before ours.
		rc.nc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		_, err := rc.br.ReadByte()
		var ne net.Error
		if !(errors.As(err, &ne) && ne.Timeout()) {
			t.Logf("server read: %v", err)
		}
		sawEarlyEOF <- !(errors.As(err, &ne) && ne.Timeout())
		rc.nc.(*net.TCPConn).CloseWrite()
	})
	if async {
		codes := make(chan int, 1)
		ac, err := websocket.DialAsync(testCtx(t), srv.url, &websocket.ServiceFuncs{
			OnClose: func(c *websocket.Conn, code int, reason string) { codes <- code },
		}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer ac.Close(testCtx(t), 1000, "")
		if code := recv(t, codes); code != 1000 {
			t.Fatalf("OnClose %d, want the server's 1000", code)
		}
	} else {
		c, err := websocket.Dial(testCtx(t), srv.url, cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = c.Read(testCtx(t), nil)
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != 1000 {
			t.Fatalf("Read: %v, want the server's close 1000", err)
		}
	}
	if <-sawEarlyEOF {
		t.Fatal("the client closed TCP before the server")
	}
}

// CloseNow drops the connection without a close handshake: the peer sees
// the TCP connection end with no close frame, OnClose gets 1006.
func TestCloseNow(t *testing.T) {
	codes := make(chan int, 1)
	opened := make(chan *websocket.Conn, 1)
	up := websocket.Static(&websocket.ServiceFuncs{
		OnOpen:  func(c *websocket.Conn) error { opened <- c; return nil },
		OnClose: func(c *websocket.Conn, code int, reason string) { codes <- code },
	})
	l := serve(t, "/ws", up, nil, nil)
	c := dialWS(t, addrOf(l), "/ws", nil)
	sc := recv(t, opened)
	if err := sc.CloseNow(); err != nil {
		t.Fatal(err)
	}
	if ev := c.next(5 * time.Second); ev.op != -1 {
		t.Fatalf("got op %d, want the connection's end without a close frame", ev.op)
	}
	if code := recv(t, codes); code != 1006 {
		t.Fatalf("OnClose %d, want 1006", code)
	}
	if err := sc.WriteTextMessage(context.Background(), []byte("x")); !errors.Is(err, websocket.ErrClosed) {
		t.Fatalf("write after CloseNow: %v", err)
	}
}

// The Listener's own HTTP/1.1 reading: a malformed request gets 400; a
// Fallback response carries its Content-Length and Connection: close, and
// none of its body for HEAD.
func TestListenerHTTPRequests(t *testing.T) {
	fb := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "page") })
	l := serve(t, "/ws", websocket.Static(websocket.Echo), nil, &websocket.ListenerConfig{Fallback: fb})
	exchange := func(req string) string {
		t.Helper()
		c, err := net.Dial("tcp", addrOf(l))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte(req))
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, _ := io.ReadAll(c)
		return string(b)
	}
	if got := exchange("NOT HTTP\r\n\r\n"); !strings.HasPrefix(got, "HTTP/1.1 400 ") {
		t.Fatalf("malformed request: %q", got)
	}
	got := exchange("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if !strings.HasPrefix(got, "HTTP/1.1 200 ") || !strings.Contains(got, "Content-Length: 4\r\n") ||
		!strings.Contains(got, "Connection: close\r\n") || !strings.HasSuffix(got, "\r\n\r\npage") {
		t.Fatalf("fallback GET: %q", got)
	}
	if got := exchange("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"); !strings.HasPrefix(got, "HTTP/1.1 200 ") || !strings.HasSuffix(got, "\r\n\r\n") {
		t.Fatalf("fallback HEAD: %q", got)
	}
}

// TestAnsweredConnectionDoesNotHoldAStop: a client that got a non-upgrade
// answer (404 here) and keeps its socket open must not hold a GracefulStop
// for the engine's 5 s linger. It failed before the answered connection's
// linger was shortened: the stop with a 2 s ctx returned DeadlineExceeded.
func TestAnsweredConnectionDoesNotHoldAStop(t *testing.T) {
	l, err := websocket.NewListener(0, &websocket.ListenerConfig{Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Attach("/ws", websocket.Static(websocket.Echo), nil); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	defer l.ImmediateStop()
	d := dialRaw(t, addrOf(l), "/other", nil)
	if d.resp.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d, want 404", d.resp.StatusCode)
	}
	// The server's FIN: its side is now lingering for ours. The raw client
	// keeps its socket open (closed only at cleanup).
	if _, err := io.Copy(io.Discard, d.br); err != nil {
		t.Fatalf("reading to the server's FIN: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := l.GracefulStop(ctx); err != nil {
		t.Fatalf("GracefulStop: %v (the answered connection held the stop)", err)
	}
}
