package socket_test

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/leakcheck"
	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/socket"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// quietLogger discards logs: tests provoke panics on purpose.
var quietLogger = netkittest.DiscardLogger

// testCtx returns a context bounded well below the test timeout.
func testCtx(t testing.TB) context.Context { return netkittest.Context(t) }

// listen starts a listener on 127.0.0.1:0 serving svc, stopped at cleanup.
func listen(t testing.TB, svc socket.Service, cfg *socket.ListenerConfig) *socket.Listener {
	t.Helper()
	var c socket.ListenerConfig
	if cfg != nil {
		c = *cfg
	}
	if c.Interface == "" {
		c.Interface = "127.0.0.1"
	}
	if c.Logger == nil {
		c.Logger = quietLogger
	}
	l, err := socket.NewListener(0, &c)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Attach(svc); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.ImmediateStop() })
	return l
}

// dialRaw connects a plain net.Conn to l (an independent peer), closed at
// cleanup, with a deadline so that a broken test fails instead of hanging.
func dialRaw(t testing.TB, l *socket.Listener) *net.TCPConn {
	t.Helper()
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(15 * time.Second))
	t.Cleanup(func() { nc.Close() })
	return nc.(*net.TCPConn)
}

// newClient connects a socket.Client to port on 127.0.0.1, closed at
// cleanup.
func newClient(t testing.TB, port int, cfg socket.ClientConfig) *socket.Client {
	t.Helper()
	cfg.Host, cfg.Port = "127.0.0.1", port
	if cfg.Logger == nil {
		cfg.Logger = quietLogger
	}
	c, err := socket.NewClient(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// mockServer accepts one connection on 127.0.0.1:0 and runs serve on it in
// a goroutine; the connection is closed after serve returns. It returns the
// port; cleanup waits for the goroutine.
func mockServer(t testing.TB, serve func(nc net.Conn)) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer ln.Close()
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(15 * time.Second))
		serve(nc)
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().(*net.TCPAddr).Port
}

// readFull reads exactly n bytes from r.
func readFull(t testing.TB, r io.Reader, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatalf("reading %d bytes: %v", n, err)
	}
	return string(b)
}

// recv waits for a value on ch, failing the test after 10 s.
func recv[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for a callback")
	}
	var zero T
	return zero
}
