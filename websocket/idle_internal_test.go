package websocket

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"
	"unsafe"
)

// TestIdleFootprint guards what the package keeps per idle server
// connection: a Conn and its session (TestIdleMemory measures the whole
// connection). Both fill their size classes exactly; a field more moves
// each to the next class.
func TestIdleFootprint(t *testing.T) {
	if s := unsafe.Sizeof(Conn{}); s > 128 {
		t.Errorf("Conn is %d bytes, want <= 128", s)
	}
	if s := unsafe.Sizeof(session{}); s > 64 {
		t.Errorf("session is %d bytes, want <= 64", s)
	}
}

// TestSharedHooks: the sessions of a Service share one hooks value, and a
// Service with other hooks gets its own.
func TestSharedHooks(t *testing.T) {
	h := NewHandler(Static(Echo), nil)
	text := func(*Conn, []byte) error { return nil }
	sf := &ServiceFuncs{OnTextMessage: text}
	hk1, err := resolveHooks(sf)
	if err != nil {
		t.Fatal(err)
	}
	hk2, _ := resolveHooks(sf)
	p1, p2 := h.sharedHooks(hk1), h.sharedHooks(hk2)
	if p1 != p2 {
		t.Error("identical hooks not shared")
	}
	other, _ := resolveHooks(&ServiceFuncs{OnBinaryMessage: text})
	if p3 := h.sharedHooks(other); p3 == p1 || p3.binary == nil || p3.text != nil {
		t.Errorf("different hooks shared or mixed up: %+v", *p3)
	}
}

// TestIdleServiceConnHoldsNoReader: between messages, a connection served by
// a Service has handed its message reader back (OnIdleTimeout runs on the
// connection's loop between reads, so it sees the idle state).
func TestIdleServiceConnHoldsNoReader(t *testing.T) {
	held := make(chan bool, 1)
	svc := &ServiceFuncs{
		OnTextMessage: func(c *Conn, p []byte) error { return c.WriteTextMessage(context.Background(), p) },
		OnIdleTimeout: func(c *Conn) error {
			select {
			case held <- c.mr != nil:
			default:
			}
			return nil
		},
	}
	url, stop := serveInternal(t, Static(svc), &ServiceConfig{IdleTimeout: 20 * time.Millisecond})
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close(ctx, 1000, "")
	if err := cl.WriteTextMessage(ctx, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if s, err := cl.ReadTextMessage(ctx); err != nil || string(s) != "hello" {
		t.Fatalf("echo: %q, %v", s, err)
	}
	if cl.conn.mr != nil {
		t.Error("an idle client connection holds its message reader")
	}
	select {
	case h := <-held:
		if h {
			t.Error("an idle server connection holds its message reader")
		}
	case <-ctx.Done():
		t.Fatal("no idle timeout")
	}
}

// TestIdlePulledConnHoldsNoReader: a connection from Accept hands its
// message reader back once a Read has consumed all it read.
func TestIdlePulledConnHoldsNoReader(t *testing.T) {
	accepted := make(chan *Conn, 1)
	url, stop := serveHTTPInternal(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := Accept(w, r, nil); err == nil {
			accepted <- c
		}
	}))
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	var sc *Conn
	select {
	case sc = <-accepted:
	case <-ctx.Done():
		t.Fatal("not accepted")
	}
	if err := cl.WriteTextMessage(ctx, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, p, err := sc.Read(ctx, nil); err != nil || string(p) != "hello" {
		t.Fatalf("Read: %q, %v", p, err)
	}
	if sc.mr != nil {
		t.Error("an idle pulled connection holds its message reader")
	}
	done := make(chan error, 1)
	go func() { _, _, err := sc.Read(ctx, nil); done <- err }() // answers the close
	if err := cl.Close(ctx, 1000, ""); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Fatal("Read after the close: no error")
	}
}

// serveInternal serves up on a loopback Listener and returns its URL.
func serveInternal(t *testing.T, up UpgradeService, sc *ServiceConfig) (string, func()) {
	t.Helper()
	l, err := NewListener(0, &ListenerConfig{Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Attach("/", up, sc); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	return "ws://" + l.Addr().String() + "/", func() { l.ImmediateStop() }
}

// serveHTTPInternal serves h on a loopback http.Server.
func serveHTTPInternal(t *testing.T, h http.Handler) (string, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() { srv.Serve(ln); close(done) }()
	return "ws://" + ln.Addr().String() + "/", func() { srv.Close(); <-done }
}
