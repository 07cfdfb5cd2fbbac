//go:build linux

package tcp_test

import (
	"context"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/engine"
	"github.com/netkit-go/netkit/tcp"
)

// On the event-loop backend an idle connection costs no goroutine: with
// 2000 connections, each served once and then idle, the process holds
// only the loops, the parked pool workers and a few more goroutines.
func TestEventLoopIdleConnectionsCostNoGoroutine(t *testing.T) {
	const n = 2000 // 4000 descriptors in this process: client and server ends
	if testing.Short() {
		t.Skip("opens 2000 connections")
	}
	t.Setenv(engine.EnvBackend, "evloop")
	base := runtime.NumGoroutine()
	l := listen(t, tcp.EchoService, nil)
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	addr := l.Addr().String()
	buf := make([]byte, 1)
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatalf("echo: %v", err)
		}
	}
	// The loops (one per P), the workers the pool keeps parked (as many),
	// the accept loop, and slack for the runtime's own.
	bound := base + 2*runtime.GOMAXPROCS(0) + 8
	if !waitFor(5*time.Second, func() bool { return runtime.NumGoroutine() <= bound }) {
		t.Fatalf("%d goroutines with %d idle connections, want at most %d (%d before)",
			runtime.NumGoroutine(), n, bound, base)
	}
	t.Logf("%d idle connections: %d goroutines above the %d before", n, runtime.NumGoroutine()-base, base)
	// Still served after idling.
	for _, c := range conns[:10] {
		if _, err := c.Write([]byte("y")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil || buf[0] != 'y' {
			t.Fatalf("echo after idle: %q %v", buf, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, c := range conns {
		c.Close()
	}
	if err := l.GracefulStop(ctx); err != nil {
		t.Fatal(err)
	}
}
