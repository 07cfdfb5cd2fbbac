package tcp_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/bufpool"
	"github.com/netkit-go/netkit/tcp"
)

// recorder is a ConnectionService that records its callbacks.
type recorder struct {
	mu      sync.Mutex
	events  []string
	errs    []error
	closed  chan struct{}
	onBytes func(c *tcp.Caller, data []byte) ([]byte, error)
}

func newRecorder(f func(c *tcp.Caller, data []byte) ([]byte, error)) *recorder {
	return &recorder{closed: make(chan struct{}), onBytes: f}
}

func (r *recorder) OnBytes(c *tcp.Caller, data []byte) ([]byte, error) {
	r.mu.Lock()
	r.events = append(r.events, "bytes:"+string(data))
	r.mu.Unlock()
	if r.onBytes != nil {
		return r.onBytes(c, data)
	}
	return data, nil
}

func (r *recorder) OnError(c *tcp.Caller, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, "error")
	r.errs = append(r.errs, err)
}

func (r *recorder) OnClose(c *tcp.Caller) {
	r.mu.Lock()
	r.events = append(r.events, "close")
	r.mu.Unlock()
	close(r.closed) // panics if OnClose runs twice
}

func (r *recorder) snapshot() ([]string, []error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...), append([]error(nil), r.errs...)
}

func (r *recorder) waitClosed(t testing.TB) {
	t.Helper()
	select {
	case <-r.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("OnClose not called")
	}
}

// serveRecorders attaches a service handing each connection a new recorder,
// sent on the returned channel.
func serveRecorders(t testing.TB, f func(c *tcp.Caller, data []byte) ([]byte, error), cfg *tcp.ListenerConfig) (*tcp.Listener, chan *recorder) {
	ch := make(chan *recorder, 16)
	l := listen(t, tcp.ServiceFunc(func(*tcp.Caller) (tcp.ConnectionService, error) {
		r := newRecorder(f)
		ch <- r
		return r, nil
	}), cfg)
	return l, ch
}

func TestCallerIDUniqueAndAddresses(t *testing.T) {
	ids := make(chan *tcp.Caller, 2)
	l := listen(t, tcp.ServiceFunc(func(c *tcp.Caller) (tcp.ConnectionService, error) {
		ids <- c
		return tcp.Echo, nil
	}), nil)
	c1 := dial(t, l, nil)
	dial(t, l, nil)
	a, b := <-ids, <-ids
	if a.ID() == "" || a.ID() == b.ID() {
		t.Fatalf("ids %q %q", a.ID(), b.ID())
	}
	if a.RemoteHost() != "127.0.0.1" || a.LocalPort() != l.Port() || a.RemotePort() == 0 {
		t.Fatalf("addresses: %s:%d -> %s:%d", a.RemoteHost(), a.RemotePort(), a.LocalHost(), a.LocalPort())
	}
	_ = c1
}

func TestOnBytesErrorKeepsConnection(t *testing.T) {
	sawBad := make(chan struct{})
	l, recs := serveRecorders(t, func(c *tcp.Caller, data []byte) ([]byte, error) {
		if string(data) == "bad" {
			close(sawBad)
			return nil, errors.New("handler says no")
		}
		return data, nil
	}, nil)
	c := dial(t, l, nil)
	r := <-recs
	c.WriteBytes(testCtx(t), []byte("bad"))
	<-sawBad // so that "x" is a chunk of its own
	c.WriteBytes(testCtx(t), []byte("x"))
	if got := readN(t, c, 1); string(got) != "x" {
		t.Fatalf("got %q", got)
	}
	_, errs := r.snapshot()
	if len(errs) == 0 || errs[0].Error() != "handler says no" {
		t.Fatalf("OnError got %v", errs)
	}
}

func TestPanicClosesOnlyThatConnection(t *testing.T) {
	l, recs := serveRecorders(t, func(c *tcp.Caller, data []byte) ([]byte, error) {
		if string(data) == "boom" {
			panic("kaboom")
		}
		return data, nil
	}, nil)
	good := dial(t, l, nil)
	<-recs
	bad := dial(t, l, nil)
	r := <-recs
	bad.WriteBytes(testCtx(t), []byte("boom"))
	r.waitClosed(t)
	events, errs := r.snapshot()
	var pe *tcp.PanicError
	if len(errs) != 1 || !errors.As(errs[0], &pe) || pe.Value != "kaboom" || len(pe.Stack) == 0 {
		t.Fatalf("errors %v", errs)
	}
	if events[len(events)-2] != "error" || events[len(events)-1] != "close" {
		t.Fatalf("events %v", events)
	}
	good.WriteBytes(testCtx(t), []byte("ok"))
	if got := readN(t, good, 2); string(got) != "ok" {
		t.Fatalf("other connection: %q", got)
	}
}

func TestOnCloseOnceOnPeerClose(t *testing.T) {
	l, recs := serveRecorders(t, nil, nil)
	c := dial(t, l, nil)
	r := <-recs
	c.Close()
	r.waitClosed(t)
	events, errs := r.snapshot()
	if len(errs) != 0 || events[len(events)-1] != "close" {
		t.Fatalf("events %v errs %v", events, errs)
	}
}

// Caller.Close inside OnBytes: the reply is written, then FIN; OnClose once.
func TestCloseInsideOnBytesAfterReply(t *testing.T) {
	l, recs := serveRecorders(t, func(c *tcp.Caller, data []byte) ([]byte, error) {
		if err := c.Close(); err != nil {
			return nil, err
		}
		if c.IsOpen() {
			return nil, errors.New("IsOpen after Close")
		}
		if err := c.WriteBytes(context.Background(), []byte("no")); !errors.Is(err, net.ErrClosed) {
			return nil, errors.New("write after Close did not fail")
		}
		c.Close() // idempotent
		return []byte("bye:" + string(data)), nil
	}, nil)
	c := dial(t, l, nil)
	r := <-recs
	c.WriteBytes(testCtx(t), []byte("hi"))
	if got := readToEOF(t, c); string(got) != "bye:hi" {
		t.Fatalf("got %q", got)
	}
	c.Close()
	r.waitClosed(t)
	if _, errs := r.snapshot(); len(errs) != 0 {
		t.Fatalf("errors %v", errs)
	}
}

// Caller.Close from another goroutine: FIN after the write in progress.
func TestCloseFromOtherGoroutine(t *testing.T) {
	callers := make(chan *tcp.Caller, 1)
	r := newRecorder(nil)
	l := listen(t, tcp.ServiceFunc(func(c *tcp.Caller) (tcp.ConnectionService, error) {
		callers <- c
		return r, nil
	}), nil)
	c := dial(t, l, nil)
	caller := <-callers
	if err := caller.WriteBytes(testCtx(t), []byte("last words")); err != nil {
		t.Fatal(err)
	}
	caller.Close()
	if got := readToEOF(t, c); string(got) != "last words" {
		t.Fatalf("got %q", got)
	}
	c.Close()
	r.waitClosed(t)
	if <-caller.Context().Done(); !errors.Is(context.Cause(caller.Context()), net.ErrClosed) {
		t.Fatalf("cause %v", context.Cause(caller.Context()))
	}
}

func TestOnConnectErrorClosesWithoutOnClose(t *testing.T) {
	l := listen(t, tcp.ServiceFunc(func(c *tcp.Caller) (tcp.ConnectionService, error) {
		return nil, nil // (nil, nil) closes too
	}), nil)
	c := dial(t, l, nil)
	if _, err := c.ReadBytes(testCtx(t)); err == nil {
		t.Fatal("connection stayed open")
	}
}

type misspelled struct{}

func (misspelled) OnBytes(c *tcp.Caller, data []byte) ([]byte, error) { return data, nil }
func (misspelled) OnClosed(c *tcp.Caller)                             {}

type ballerinaShaped struct{}

func (ballerinaShaped) OnBytes(c *tcp.Caller, data []byte) ([]byte, error) { return data, nil }
func (ballerinaShaped) OnError(err error)                                  {}

type extraService struct{}

func (extraService) OnConnect(c *tcp.Caller) (tcp.ConnectionService, error) { return tcp.Echo, nil }
func (extraService) OnAccept(c *tcp.Caller)                                 {}

func TestMisspelledCallbacksRejected(t *testing.T) {
	l, _ := tcp.NewListener(0, nil)
	if err := l.Attach(extraService{}); err == nil {
		t.Fatal("Service with OnAccept accepted")
	}
	for _, cs := range []tcp.ConnectionService{misspelled{}, ballerinaShaped{}} {
		l := listen(t, tcp.ServiceFunc(func(*tcp.Caller) (tcp.ConnectionService, error) { return cs, nil }), nil)
		c := dial(t, l, nil)
		c.WriteBytes(testCtx(t), []byte("x"))
		if b, err := c.ReadBytes(testCtx(t)); err == nil {
			t.Fatalf("%T: connection served (%q)", cs, b)
		}
	}
}

// Data handed to OnBytes is borrowed: under netkit_debug a retained slice is
// poisoned once the callback returned.
func TestOnBytesDataIsBorrowed(t *testing.T) {
	if !bufpool.Debug {
		t.Skip("needs -tags netkit_debug")
	}
	var retained []byte
	stillSecret := make(chan bool, 1)
	l, _ := serveRecorders(t, func(c *tcp.Caller, data []byte) ([]byte, error) {
		if retained == nil {
			retained = data // kept past the callback: the bug the poison exposes
			return []byte("k"), nil
		}
		// On the connection's goroutine, after the first callback returned.
		stillSecret <- bytes.Contains(retained, []byte("secret"))
		return nil, nil
	}, nil)
	c := dial(t, l, nil)
	c.WriteBytes(testCtx(t), []byte("secret"))
	readN(t, c, 1)
	c.WriteBytes(testCtx(t), []byte("again"))
	if <-stillSecret {
		t.Fatal("retained buffer still readable after its callback returned")
	}
}

func TestAllowHalfClose(t *testing.T) {
	callers := make(chan *tcp.Caller, 1)
	got := make(chan struct{})
	r := newRecorder(func(c *tcp.Caller, data []byte) ([]byte, error) { close(got); return nil, nil })
	l := listen(t, tcp.ServiceFunc(func(c *tcp.Caller) (tcp.ConnectionService, error) {
		callers <- c
		return r, nil
	}), &tcp.ListenerConfig{AllowHalfClose: true})
	c := dial(t, l, nil)
	caller := <-callers
	c.WriteBytes(testCtx(t), []byte("request"))
	c.CloseWrite()
	<-got // the server read the request; its EOF follows
	if err := caller.WriteBytes(testCtx(t), []byte("response after EOF")); err != nil {
		t.Fatal(err)
	}
	caller.Close()
	if got := readToEOF(t, c); string(got) != "response after EOF" {
		t.Fatalf("got %q", got)
	}
	r.waitClosed(t)
}

func TestClientCloseWrite(t *testing.T) {
	l := listen(t, tcp.EchoService, nil)
	c := dial(t, l, nil)
	c.WriteBytes(testCtx(t), []byte("half"))
	c.CloseWrite()
	if err := c.WriteBytes(testCtx(t), []byte("more")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after CloseWrite: %v", err)
	}
	if got := readToEOF(t, c); string(got) != "half" {
		t.Fatalf("got %q", got)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestCallbackModeClient(t *testing.T) {
	l := listen(t, replyService("pong"), nil)
	host, port := hostPort(t, l.Addr())
	r := newRecorder(func(*tcp.Caller, []byte) ([]byte, error) { return nil, nil })
	got := make(chan string, 1)
	r.onBytes = func(c *tcp.Caller, data []byte) ([]byte, error) {
		got <- string(data)
		return nil, nil
	}
	c, err := tcp.NewClient(testCtx(t), host, port, &tcp.ClientConfig{Service: r, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadBytes(testCtx(t)); !errors.Is(err, tcp.ErrCallbackMode) {
		t.Fatalf("ReadBytes: %v", err)
	}
	c.WriteBytes(testCtx(t), []byte("ping"))
	if s := <-got; s != "pong" {
		t.Fatalf("got %q", s)
	}
	c.Close()
	r.waitClosed(t)
}

func TestImmediateStopClosesConnections(t *testing.T) {
	l, recs := serveRecorders(t, nil, nil)
	c := dial(t, l, nil)
	r := <-recs
	if err := l.ImmediateStop(); err != nil {
		t.Fatal(err)
	}
	r.waitClosed(t)
	if _, err := c.ReadBytes(testCtx(t)); err == nil {
		t.Fatal("connection alive after ImmediateStop")
	}
	if err := l.ImmediateStop(); !errors.Is(err, tcp.ErrNotStarted) {
		t.Fatalf("second ImmediateStop: %v", err)
	}
}

func TestGracefulStopCancelsContextAndSendsFIN(t *testing.T) {
	callers := make(chan *tcp.Caller, 1)
	r := newRecorder(nil)
	l := listen(t, tcp.ServiceFunc(func(c *tcp.Caller) (tcp.ConnectionService, error) {
		callers <- c
		return r, nil
	}), nil)
	c := dial(t, l, nil)
	caller := <-callers
	stopped := make(chan error, 1)
	go func() { stopped <- l.GracefulStop(testCtx(t)) }()
	<-caller.Context().Done()
	if cause := context.Cause(caller.Context()); !errors.Is(cause, tcp.ErrListenerStopping) {
		t.Fatalf("cause %v", cause)
	}
	if got := readToEOF(t, c); len(got) != 0 {
		t.Fatalf("got %q", got)
	}
	c.Close() // our EOF ends the server's linger
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	r.waitClosed(t)
}

func TestGracefulStopContextExpiry(t *testing.T) {
	l, recs := serveRecorders(t, nil, nil)
	c := dial(t, l, nil)
	r := <-recs
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	// The client never closes: the linger outlasts ctx.
	if err := l.GracefulStop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	r.waitClosed(t)
	_ = c
}

func TestGracefulStopFromCallback(t *testing.T) {
	var l *tcp.Listener
	stopped := make(chan error, 1)
	l, _ = serveRecorders(t, func(c *tcp.Caller, data []byte) ([]byte, error) {
		stopped <- l.GracefulStop(context.Background())
		return []byte("stopped"), nil
	}, nil)
	c := dial(t, l, nil)
	c.WriteBytes(testCtx(t), []byte("stop"))
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if got := readToEOF(t, c); string(got) != "stopped" {
		t.Fatalf("got %q", got)
	}
}

func TestMaxConnectionsPausesAccepting(t *testing.T) {
	l, recs := serveRecorders(t, nil, &tcp.ListenerConfig{MaxConnections: 1})
	c1 := dial(t, l, nil)
	r1 := <-recs
	c2 := dial(t, l, nil) // completes in the kernel backlog, not served yet
	c2.WriteBytes(testCtx(t), []byte("wait"))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c2.ReadBytes(ctx); err == nil {
		t.Fatal("second connection served above MaxConnections")
	}
	c1.Close()
	r1.waitClosed(t)
	if got := readN(t, c2, 4); string(got) != "wait" {
		t.Fatalf("got %q", got)
	}
}

func TestWriteCancelledBeforeAnyByteLeavesConnection(t *testing.T) {
	l := listen(t, tcp.EchoService, nil)
	c := dial(t, l, nil)
	dctx, dcancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer dcancel()
	if err := c.WriteBytes(dctx, []byte("never")); err == nil {
		t.Fatal("write with expired deadline succeeded")
	}
	c.WriteBytes(testCtx(t), []byte("fine"))
	if got := readN(t, c, 4); string(got) != "fine" {
		t.Fatalf("got %q", got)
	}
}

func TestServeCustomListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, _ := tcp.NewListener(0, &tcp.ListenerConfig{Logger: quietLogger})
	l.Attach(tcp.EchoService)
	if err := l.Serve(ln); err != nil {
		t.Fatal(err)
	}
	defer l.ImmediateStop()
	c := dial(t, l, nil)
	c.WriteBytes(testCtx(t), []byte("custom"))
	if got := readN(t, c, 6); string(got) != "custom" {
		t.Fatalf("got %q", got)
	}
}

var _ = io.EOF

// Caller.Close inside OnConnect takes effect when OnConnect returns: the
// peer reads EOF without sending anything, and OnClose runs. (Before, the
// close waited for the peer's first bytes.)
func TestCloseInOnConnect(t *testing.T) {
	rec := newRecorder(nil)
	l := listen(t, tcp.ServiceFunc(func(c *tcp.Caller) (tcp.ConnectionService, error) {
		c.WriteBytes(context.Background(), []byte("hello"))
		c.Close()
		return rec, nil
	}), nil)
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(nc)
	if err != nil || string(got) != "hello" {
		t.Fatalf("read %q %v, want hello then EOF", got, err)
	}
	nc.Close()
	rec.waitClosed(t)
}
