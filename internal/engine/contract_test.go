package engine_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/engine"
	"github.com/netkit-go/netkit/netkittest"
)

// The engine's contract (doc.go), tested on its own API, not through a face.
//
// The suite runs once per backend. A backend is only a way to make a
// Server from a Config; a second backend (the event loop) adds a row to
// backends and must pass every test unchanged. The tests use real loopback
// sockets only (no net.Pipe), so that any backend can serve them.

// backend is one engine backend under test.
type backend struct {
	name      string
	newServer func(engine.Config) *engine.Server
}

var backends = []backend{
	{name: "goroutine", newServer: func(cfg engine.Config) *engine.Server {
		cfg.Backend = engine.BackendGoroutine
		return engine.NewServer(cfg)
	}},
	{name: "evloop", newServer: func(cfg engine.Config) *engine.Server {
		cfg.Backend = engine.BackendEventLoop
		return engine.NewServer(cfg)
	}},
}

func TestContract(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { runContract(t, b) })
	}
}

func runContract(t *testing.T, b backend) {
	tests := []struct {
		name string
		run  func(*testing.T, backend)
	}{
		{"AcceptTrack", contractAcceptTrack},
		{"MaxConnectionsPauseResume", contractMaxConnections},
		{"HandshakeDeadline", contractHandshakeDeadline},
		{"GracefulStopIdle", contractGracefulIdle},
		{"GracefulStopBusyRepliesDelivered", contractGracefulBusy},
		{"GracefulStopStuckCallbackBoundedByCtx", contractGracefulStuck},
		{"ImmediateStopStuckCallback", contractImmediateStuck},
		{"StopFromCallback", contractStopFromCallback},
		{"TwoStopsFromCallbacks", contractTwoStopsFromCallbacks},
		{"ConcurrentStopsJoin", contractConcurrentStops},
		{"StopThenStartAgain", contractRestart},
		{"CloseFromEveryCallback", contractCloseFromCallbacks},
		{"WriteAfterClose", contractWriteAfterClose},
		{"WriteLockReleasedOnClose", contractWriteLockOnClose},
		{"PanicIsolation", contractPanic},
		{"ClosedExactlyOnce", contractClosedOnce},
		{"GracefulFaceHook", contractGracefulFace},
		{"AddrAfterStop", contractAddrAfterStop},
		{"FatalAcceptErrorReleasesAll", contractFatalAccept},
		{"ConnState", contractConnState},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, b) })
	}
}

// face is a configurable StreamFace that records what it was told.
type face struct {
	open    func(c *engine.Conn) error
	data    func(c *engine.Conn, p []byte) (int, error)
	stop    func(c *engine.Conn) error // GracefulFace, when set
	opened  chan *engine.Conn
	closedN atomic.Int32
	closed  chan error
}

func newFace() *face {
	return &face{opened: make(chan *engine.Conn, 64), closed: make(chan error, 64)}
}

func (f *face) Open(c *engine.Conn) error {
	f.opened <- c
	if f.open != nil {
		return f.open(c)
	}
	return nil
}

func (f *face) Data(c *engine.Conn, p []byte) (int, error) {
	if f.data != nil {
		return f.data(c, p)
	}
	_, err := c.Write(context.Background(), p) // echo
	return len(p), err
}

func (f *face) Closed(c *engine.Conn, err error) {
	f.closedN.Add(1)
	f.closed <- err
}

// stopFace is a face with the GracefulFace hook.
type stopFace struct{ *face }

func (f stopFace) Stopping(c *engine.Conn) error { return f.stop(c) }

// serve starts a server of backend b on loopback with cfg and returns it
// with its address. The server is stopped at the end of the test.
func serve(t *testing.T, b backend, cfg engine.Config, f engine.Face) (*engine.Server, string) {
	t.Helper()
	if cfg.NewFace == nil {
		cfg.NewFace = func(*engine.Conn) engine.Face { return f }
	}
	srv := b.newServer(cfg)
	if err := srv.Listen(nil, "tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.ImmediateStop() })
	return srv, srv.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// within bounds a wait that must happen; it is a failure detector, not a
// timing assertion.
const within = 10 * time.Second

func recvT[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(within):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

func echoOnce(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(within))
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo: %q %v", buf, err)
	}
}

// readEOF reads until the end of the stream and returns what arrived.
func readEOF(t *testing.T, c net.Conn) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(within))
	b, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		t.Fatalf("read to EOF: %v", err)
	}
	return b
}

func isReset(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && !oe.Timeout()
}

func waitLen(t *testing.T, srv *engine.Server, n int) {
	t.Helper()
	deadline := time.Now().Add(within)
	for srv.Len() != n {
		if time.Now().After(deadline) {
			t.Fatalf("Len %d, want %d", srv.Len(), n)
		}
		time.Sleep(time.Millisecond) // polling a count, not synchronising
	}
}

func contractAcceptTrack(t *testing.T, b backend) {
	f := newFace()
	srv, addr := serve(t, b, engine.Config{}, f)
	c1, c2 := dial(t, addr), dial(t, addr)
	echoOnce(t, c1, "one")
	echoOnce(t, c2, "two")
	if srv.Len() != 2 {
		t.Fatalf("Len %d", srv.Len())
	}
	c1.Close()
	if err := recvT(t, f.closed, "Closed"); err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("Closed(%v), want nil or EOF", err)
	}
	waitLen(t, srv, 1)
}

func contractMaxConnections(t *testing.T, b backend) {
	f := newFace()
	srv, addr := serve(t, b, engine.Config{MaxConnections: 2}, f)
	c1, c2 := dial(t, addr), dial(t, addr)
	echoOnce(t, c1, "a")
	echoOnce(t, c2, "b")
	// The third is left in the kernel's backlog: not accepted, not opened.
	c3 := dial(t, addr)
	c3.Write([]byte("c"))
	select {
	case <-f.opened:
		<-f.opened
	default:
	}
	drain(f.opened)
	if srv.Len() != 2 {
		t.Fatalf("Len %d over MaxConnections 2", srv.Len())
	}
	c1.Close()
	// Accepting resumes: the third is served.
	c3.SetReadDeadline(time.Now().Add(within))
	buf := make([]byte, 1)
	if _, err := io.ReadFull(c3, buf); err != nil || buf[0] != 'c' {
		t.Fatalf("third after a close: %q %v", buf, err)
	}
	if n := srv.Len(); n > 2 {
		t.Fatalf("Len %d", n)
	}
}

func drain[T any](ch chan T) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

func contractHandshakeDeadline(t *testing.T, b backend) {
	stc, _ := netkittest.TLSPair(t)
	f := newFace()
	failed := make(chan error, 1)
	srv, addr := serve(t, b, engine.Config{TLS: stc, HandshakeTimeout: 100 * time.Millisecond,
		HandshakeFailed: func(_ *engine.Conn, err error) { failed <- err }}, f)
	silent := dial(t, addr) // sends no ClientHello
	waitLen(t, srv, 1)
	if got := readEOF(t, silent); len(got) != 0 {
		t.Fatalf("silent client got %q", got)
	}
	waitLen(t, srv, 0)
	select {
	case <-f.opened:
		t.Fatal("a connection that failed its handshake was opened")
	default:
	}
	if err := recvT(t, failed, "HandshakeFailed"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("HandshakeFailed(%v), want the deadline", err)
	}
}

// ConnState is told StateNew before the face opens and StateClosed after
// its Closed, and a stop returns only after the StateClosed calls: while
// StateClosed runs, the stop cannot have returned (the callback gives it
// 50 ms to do so wrongly; with the contract kept, it never can).
func contractConnState(t *testing.T, b backend) {
	f := newFace()
	var mu sync.Mutex
	var events []string
	returned := make(chan struct{})
	cfg := engine.Config{ConnState: func(c *engine.Conn, st engine.ConnState) {
		switch st {
		case engine.StateNew:
			mu.Lock()
			events = append(events, "new")
			mu.Unlock()
		case engine.StateClosed:
			e := "closed after the face's Closed"
			if f.closedN.Load() != 1 {
				e = "closed before the face's Closed"
			}
			select {
			case <-returned:
				e += ", after the stop returned"
			case <-time.After(50 * time.Millisecond):
			}
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		}
	}}
	srv, addr := serve(t, b, cfg, f)
	c := dial(t, addr)
	echoOnce(t, c, "x")
	done := make(chan error, 1)
	go func() {
		err := srv.GracefulStop(context.Background())
		close(returned)
		done <- err
	}()
	readEOF(t, c)
	c.Close()
	if err := recvT(t, done, "GracefulStop"); err != nil {
		t.Fatalf("GracefulStop: %v", err)
	}
	mu.Lock()
	got := strings.Join(events, "; ")
	mu.Unlock()
	if got != "new; closed after the face's Closed" {
		t.Fatalf("ConnState when the stop returned: %s", got)
	}
}

func contractGracefulIdle(t *testing.T, b backend) {
	f := newFace()
	srv, addr := serve(t, b, engine.Config{}, f)
	c := dial(t, addr)
	echoOnce(t, c, "x")
	done := make(chan error, 1)
	go func() { done <- srv.GracefulStop(context.Background()) }()
	readEOF(t, c) // FIN, then the server lingers for ours
	c.Close()
	if err := recvT(t, done, "GracefulStop"); err != nil {
		t.Fatalf("GracefulStop: %v", err)
	}
	if err := recvT(t, f.closed, "Closed"); !errors.Is(err, engine.ErrListenerStopping) {
		t.Fatalf("Closed(%v), want ErrListenerStopping", err)
	}
	if srv.Len() != 0 {
		t.Fatalf("Len %d after stop", srv.Len())
	}
	if err := srv.GracefulStop(context.Background()); err != engine.ErrNotStarted {
		t.Fatalf("second stop: %v", err)
	}
}

// A callback running when the stop begins finishes and its reply goes out;
// bytes that already arrived are still answered.
func contractGracefulBusy(t *testing.T, b backend) {
	f := newFace()
	entered, release := make(chan struct{}, 1), make(chan struct{})
	f.data = func(c *engine.Conn, p []byte) (int, error) {
		if bytes.HasPrefix(p, []byte("slow")) {
			entered <- struct{}{}
			<-release
		}
		_, err := c.Write(context.Background(), p)
		return len(p), err
	}
	srv, addr := serve(t, b, engine.Config{}, f)
	c := dial(t, addr)
	ec := recvT(t, f.opened, "Open")
	c.Write([]byte("slow"))
	recvT(t, entered, "the callback")
	done := make(chan error, 1)
	go func() { done <- srv.GracefulStop(context.Background()) }()
	c.Write([]byte("more")) // arrives before the server's FIN
	waitStopping(t, ec)
	close(release)
	got := readEOF(t, c)
	c.Close()
	if err := recvT(t, done, "GracefulStop"); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(got, []byte("slow")) {
		t.Fatalf("reply of the running callback lost: %q", got)
	}
}

// waitStopping waits until the stop has begun for ec: its context is
// cancelled with the stop's cause.
func waitStopping(t *testing.T, ec *engine.Conn) {
	t.Helper()
	recvT(t, ec.Context().Done(), "the stop to begin")
}

func contractGracefulStuck(t *testing.T, b backend) {
	f := newFace()
	entered, release := make(chan struct{}, 1), make(chan struct{})
	defer close(release)
	f.data = func(c *engine.Conn, p []byte) (int, error) {
		entered <- struct{}{}
		<-release // stuck on something other than the connection
		return len(p), nil
	}
	srv, addr := serve(t, b, engine.Config{}, f)
	c := dial(t, addr)
	c.Write([]byte("x"))
	recvT(t, entered, "the callback")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.GracefulStop(ctx) }()
	if err := recvT(t, done, "GracefulStop with a stuck callback"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("GracefulStop: %v, want context.DeadlineExceeded", err)
	}
	// The socket was force-closed, though the callback still runs.
	readEOF(t, c)
}

func contractImmediateStuck(t *testing.T, b backend) {
	f := newFace()
	entered, release := make(chan struct{}, 1), make(chan struct{})
	defer close(release)
	f.data = func(c *engine.Conn, p []byte) (int, error) {
		entered <- struct{}{}
		<-release
		return len(p), nil
	}
	srv, addr := serve(t, b, engine.Config{}, f)
	c := dial(t, addr)
	c.Write([]byte("x"))
	recvT(t, entered, "the callback")
	done := make(chan error, 1)
	go func() { done <- srv.ImmediateStop() }()
	if err := recvT(t, done, "ImmediateStop with a stuck callback"); err != nil {
		t.Fatal(err)
	}
	readEOF(t, c)
}

func contractStopFromCallback(t *testing.T, b backend) {
	for _, immediate := range []bool{false, true} {
		f := newFace()
		var srv *engine.Server
		stopped := make(chan error, 1)
		f.data = func(c *engine.Conn, p []byte) (int, error) {
			c.Write(context.Background(), p)
			if string(p) != "stop" {
				return len(p), nil
			}
			if immediate {
				stopped <- srv.ImmediateStop()
			} else {
				err := srv.GracefulStop(context.Background())
				// A reply after the stop still goes out: the caller's own
				// connection closes when the callback returns.
				c.Write(context.Background(), []byte("+"))
				stopped <- err
			}
			return len(p), nil
		}
		var addr string
		srv, addr = serve(t, b, engine.Config{}, f)
		other := dial(t, addr)
		echoOnce(t, other, "o")
		c := dial(t, addr)
		c.Write([]byte("stop"))
		readEOF(t, other)
		other.Close()
		if err := recvT(t, stopped, "stop from a callback"); err != nil {
			t.Fatalf("immediate=%v: %v", immediate, err)
		}
		got := readEOF(t, c)
		if !immediate && string(got) != "stop+" {
			t.Fatalf("replies before and after the stop: %q, want \"stop+\"", got)
		}
		c.Close()
		recvT(t, f.closed, "Closed")
		recvT(t, f.closed, "Closed")
		waitLen(t, srv, 0)
	}
}

// Two callbacks that stop the server at once do not wait for each other.
func contractTwoStopsFromCallbacks(t *testing.T, b backend) {
	for _, immediate := range []bool{false, true} {
		f := newFace()
		var srv *engine.Server
		var ready sync.WaitGroup
		ready.Add(2)
		stopped := make(chan error, 2)
		f.data = func(c *engine.Conn, p []byte) (int, error) {
			ready.Done()
			ready.Wait() // both callbacks run
			if immediate {
				stopped <- srv.ImmediateStop()
			} else {
				stopped <- srv.GracefulStop(context.Background())
			}
			return len(p), nil
		}
		var addr string
		srv, addr = serve(t, b, engine.Config{}, f)
		c1, c2 := dial(t, addr), dial(t, addr)
		for _, c := range []net.Conn{c1, c2} {
			c.Write([]byte("x"))
			go func() { io.Copy(io.Discard, c); c.Close() }() // end the linger
		}
		for range 2 {
			if err := recvT(t, stopped, "two stops from callbacks"); err != nil {
				t.Fatalf("immediate=%v: %v", immediate, err)
			}
		}
		waitLen(t, srv, 0)
	}
}

func contractConcurrentStops(t *testing.T, b backend) {
	f := newFace()
	srv, addr := serve(t, b, engine.Config{}, f)
	c := dial(t, addr)
	echoOnce(t, c, "x")
	ec := recvT(t, f.opened, "Open")
	g := make(chan error, 1)
	go func() { g <- srv.GracefulStop(context.Background()) }()
	waitStopping(t, ec)
	// An immediate stop joins the graceful one and hurries it.
	i := make(chan error, 1)
	go func() { i <- srv.ImmediateStop() }()
	if err := recvT(t, i, "ImmediateStop joining"); err != nil && err != engine.ErrNotStarted {
		t.Fatal(err)
	}
	if err := recvT(t, g, "GracefulStop"); err != nil {
		t.Fatal(err)
	}
	readEOF(t, c)
}

func contractRestart(t *testing.T, b backend) {
	f := newFace()
	srv, addr := serve(t, b, engine.Config{}, f)
	echoOnce(t, dial(t, addr), "1")
	if err := srv.ImmediateStop(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(nil, "tcp", "127.0.0.1:0"); err != nil {
		t.Fatalf("start again: %v", err)
	}
	c := dial(t, srv.Addr().String())
	echoOnce(t, c, "2")
	c.Close()
	if err := srv.GracefulStop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Close and Shutdown from Open, Data and Timer take effect when that
// callback returns.
func contractCloseFromCallbacks(t *testing.T, b backend) {
	type step struct {
		name     string
		graceful bool
		in       string // "open", "data"
	}
	for _, s := range []step{{"OpenShutdown", true, "open"}, {"OpenClose", false, "open"},
		{"DataShutdown", true, "data"}, {"DataClose", false, "data"}} {
		t.Run(s.name, func(t *testing.T) {
			f := newFace()
			end := func(c *engine.Conn) {
				if s.graceful {
					c.Shutdown(nil)
				} else {
					c.Close(nil)
				}
			}
			if s.in == "open" {
				f.open = func(c *engine.Conn) error {
					c.Write(context.Background(), []byte("hi"))
					end(c)
					return nil
				}
			} else {
				f.data = func(c *engine.Conn, p []byte) (int, error) {
					c.Write(context.Background(), p)
					end(c)
					return len(p), nil
				}
			}
			_, addr := serve(t, b, engine.Config{}, f)
			c := dial(t, addr)
			want := "hi"
			if s.in == "data" {
				c.Write([]byte("bye"))
				want = "bye"
			}
			// Without sending anything more, the client sees the end.
			got := readEOF(t, c)
			if s.graceful && string(got) != want {
				t.Fatalf("got %q, want %q then EOF", got, want)
			}
			c.Close() // ends the server's linger
			recvT(t, f.closed, "Closed")
		})
	}
	t.Run("Timer", func(t *testing.T) {
		tf := &timerFace{period: time.Millisecond, stopAt: 1, data: make(chan string, 4), closed: make(chan error, 1)}
		_, addr := serve(t, b, engine.Config{}, tf)
		c := dial(t, addr)
		readEOF(t, c)
		c.Close()
		recvT(t, tf.closed, "Closed")
	})
}

func contractWriteAfterClose(t *testing.T, b backend) {
	f := newFace()
	_, addr := serve(t, b, engine.Config{}, f)
	c := dial(t, addr)
	ec := recvT(t, f.opened, "Open")
	ec.Close(nil)
	recvT(t, f.closed, "Closed")
	if _, err := ec.Write(context.Background(), []byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
	if err := ec.CloseWrite(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("CloseWrite after close: %v", err)
	}
	c.Close()
}

// A writer waiting for the write lock (its holder stuck) gives up with
// net.ErrClosed as soon as anyone closes the connection; so does CloseWrite.
func contractWriteLockOnClose(t *testing.T, b backend) {
	f := newFace()
	_, addr := serve(t, b, engine.Config{}, f)
	dial(t, addr)
	ec := recvT(t, f.opened, "Open")
	if err := ec.LockWrite(context.Background()); err != nil { // the stuck holder
		t.Fatal(err)
	}
	defer ec.UnlockWrite()
	errs := make(chan error, 2)
	go func() { _, err := ec.Write(context.Background(), []byte("x")); errs <- err }()
	go func() { errs <- ec.CloseWrite() }()
	time.Sleep(10 * time.Millisecond) // let them wait (either order is correct)
	ec.Close(nil)
	for range 2 {
		if err := recvT(t, errs, "a writer behind the lock"); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("waiting writer: %v, want net.ErrClosed", err)
		}
	}
}

func contractPanic(t *testing.T, b backend) {
	f := newFace()
	f.data = func(c *engine.Conn, p []byte) (int, error) {
		if string(p) == "boom" {
			panic("boom")
		}
		c.Write(context.Background(), p)
		return len(p), nil
	}
	_, addr := serve(t, b, engine.Config{Conn: engine.ConnConfig{Logger: quiet}}, f)
	good, bad := dial(t, addr), dial(t, addr)
	echoOnce(t, good, "ok")
	bad.Write([]byte("boom"))
	readEOF(t, bad)
	var pe *engine.PanicError
	if err := recvT(t, f.closed, "Closed"); !errors.As(err, &pe) {
		t.Fatalf("Closed(%v), want *PanicError", err)
	}
	echoOnce(t, good, "still")
}

func contractClosedOnce(t *testing.T, b backend) {
	f := newFace()
	srv, addr := serve(t, b, engine.Config{}, f)
	const n = 8
	for range n {
		dial(t, addr)
	}
	var conns []*engine.Conn
	for range n {
		conns = append(conns, recvT(t, f.opened, "Open"))
	}
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(2)
		go func() { defer wg.Done(); c.Close(nil) }()
		go func() { defer wg.Done(); c.Shutdown(nil) }()
	}
	srv.GracefulStop(context.Background())
	wg.Wait()
	srv.ImmediateStop()
	waitLen(t, srv, 0)
	if got := f.closedN.Load(); got != n {
		t.Fatalf("Closed ran %d times for %d connections", got, n)
	}
}

// A GracefulFace says its own goodbye from the connection's goroutine,
// after the running callback's reply, and keeps reading until it ends the
// connection.
func contractGracefulFace(t *testing.T, b backend) {
	f := newFace()
	entered, release := make(chan struct{}, 1), make(chan struct{})
	var onLoop atomic.Bool
	f.stop = func(c *engine.Conn) error {
		onLoop.Store(c.OnLoop())
		_, err := c.Write(context.Background(), []byte("|bye"))
		return err
	}
	f.data = func(c *engine.Conn, p []byte) (int, error) {
		switch string(p) {
		case "slow":
			entered <- struct{}{}
			<-release
		case "ack": // the peer's goodbye: end the connection
			return len(p), engine.ErrCloseGracefully
		}
		_, err := c.Write(context.Background(), p)
		return len(p), err
	}
	srv, addr := serve(t, b, engine.Config{}, stopFace{f})
	c := dial(t, addr)
	ec := recvT(t, f.opened, "Open")
	c.Write([]byte("slow"))
	recvT(t, entered, "the callback")
	done := make(chan error, 1)
	go func() { done <- srv.GracefulStop(context.Background()) }()
	waitStopping(t, ec)
	close(release)
	c.SetReadDeadline(time.Now().Add(within))
	buf := make([]byte, len("slow|bye"))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "slow|bye" {
		t.Fatalf("got %q %v, want the reply then the goodbye", buf, err)
	}
	c.Write([]byte("ack"))
	readEOF(t, c)
	c.Close()
	if err := recvT(t, done, "GracefulStop"); err != nil {
		t.Fatal(err)
	}
	if !onLoop.Load() {
		t.Fatal("Stopping did not run on the connection's goroutine")
	}
}

func contractAddrAfterStop(t *testing.T, b backend) {
	srv, addr := serve(t, b, engine.Config{}, newFace())
	srv.ImmediateStop()
	if a := srv.Addr(); a == nil || a.String() != addr {
		t.Fatalf("Addr after stop: %v, want %s", a, addr)
	}
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// failingListener fails its second Accept with a non-transient error.
type failingListener struct {
	net.Listener
	n atomic.Int32
}

var errAcceptBroken = errors.New("accept broken")

func (l *failingListener) Accept() (net.Conn, error) {
	if l.n.Add(1) > 1 {
		return nil, errAcceptBroken
	}
	return l.Listener.Accept()
}

// A fatal accept error stops serving; the connection already accepted is
// served to its end, and nothing of the server is left afterwards (the
// package's leak check sees an event loop left running).
func contractFatalAccept(t *testing.T, b backend) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := newFace()
	srv := b.newServer(engine.Config{NewFace: func(*engine.Conn) engine.Face { return f }})
	c := dial(t, inner.Addr().String())
	if err := srv.Serve(&failingListener{Listener: inner}); err != nil {
		t.Fatal(err)
	}
	echoOnce(t, c, "x")
	recvT(t, srv.Done(), "Done after the accept error")
	if !errors.Is(srv.Err(), errAcceptBroken) {
		t.Fatalf("Err() = %v", srv.Err())
	}
	echoOnce(t, c, "y")
	c.Close()
	recvT(t, f.closed, "Closed")
	waitLen(t, srv, 0)
}
