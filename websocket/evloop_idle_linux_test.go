package websocket_test

import (
	"context"
	"runtime"
	"syscall"
	"testing"

	"github.com/netkit-go/netkit/websocket"
)

// On the event-loop backend an upgraded ws:// connection moves to the
// loop: 2000 idle WebSockets hold no goroutine each, only the loops, the
// parked pool workers and a few more.
func TestEventLoopIdleWebSocketsCostNoGoroutine(t *testing.T) {
	const n = 2000 // raw client sockets: 2000 descriptors each side
	if testing.Short() {
		t.Skip("opens 2000 connections")
	}
	t.Setenv("NETKIT_ENGINE", "evloop")
	base := runtime.NumGoroutine()
	svc := &websocket.ServiceFuncs{
		OnTextMessage: func(c *websocket.Conn, p []byte) error { return c.WriteTextMessage(context.Background(), p) },
	}
	l, err := websocket.NewListener(0, &websocket.ListenerConfig{Host: "127.0.0.1", Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Attach("/", websocket.Static(svc), &websocket.ServiceConfig{Logger: quietLogger}); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	defer l.ImmediateStop()
	fds := make([]int, 0, n)
	defer func() {
		for _, fd := range fds {
			syscall.Close(fd)
		}
	}()
	for range n {
		fd, err := rawUpgrade(l.Port(), false)
		if err != nil {
			t.Fatalf("connection %d: %v", len(fds), err)
		}
		fds = append(fds, fd)
	}
	bound := base + 2*runtime.GOMAXPROCS(0) + 8
	waitFor(t, "the goroutines of idle WebSockets to end", func() bool { return runtime.NumGoroutine() <= bound })
	t.Logf("%d idle WebSockets: %d goroutines above the %d before", n, runtime.NumGoroutine()-base, base)
}
