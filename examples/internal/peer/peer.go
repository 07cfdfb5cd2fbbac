package peer

import (
	"context"
	"net"
	"testing"

	"github.com/netkit-go/netkit/tcp"
	"github.com/netkit-go/netkit/udp"
	"github.com/netkit-go/netkit/websocket"
)

// TCPEcho starts a tcp echo listener on a free loopback port, stopped at
// the test's cleanup, and returns the port.
func TCPEcho(tb testing.TB) int {
	tb.Helper()
	l, err := tcp.NewListener(0, &tcp.ListenerConfig{LocalHost: "127.0.0.1"})
	if err != nil {
		tb.Fatal(err)
	}
	if err := l.Attach(tcp.EchoService); err != nil {
		tb.Fatal(err)
	}
	if err := l.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.ImmediateStop() })
	return l.Port()
}

// UDPEcho starts a udp echo listener on a free loopback port, stopped at
// the test's cleanup, and returns the port.
func UDPEcho(tb testing.TB) int {
	tb.Helper()
	l, err := udp.NewListener(0, &udp.ListenerConfig{LocalHost: "127.0.0.1"})
	if err != nil {
		tb.Fatal(err)
	}
	if err := l.Attach(udp.Echo); err != nil {
		tb.Fatal(err)
	}
	if err := l.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.ImmediateStop() })
	return l.Addr().(*net.UDPAddr).Port
}

// WSEcho starts a websocket echo service at /ws on a free loopback port,
// stopped at the test's cleanup, and returns its URL.
func WSEcho(tb testing.TB) string {
	tb.Helper()
	l, err := websocket.NewListener(0, &websocket.ListenerConfig{Host: "127.0.0.1"})
	if err != nil {
		tb.Fatal(err)
	}
	if err := l.Attach("/ws", websocket.Static(websocket.Echo), nil); err != nil {
		tb.Fatal(err)
	}
	if err := l.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.ImmediateStop() })
	return "ws://" + l.Addr().String() + "/ws"
}

// Server runs a server sample's run function (which serves until its
// context ends and sends its bound address on ready) on a free loopback
// port. It returns the address and stop, which ends the sample as Ctrl-C
// does and returns run's result.
func Server(tb testing.TB, run func(ctx context.Context, host string, port int, ready chan<- net.Addr) error) (addr net.Addr, stop func() error) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, "127.0.0.1", 0, ready) }()
	var result error
	stopped := false
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			result = <-done
		}
		return result
	}
	tb.Cleanup(func() { stop() })
	select {
	case addr = <-ready:
		return addr, stop
	case err := <-done:
		cancel()
		stopped, result = true, err
		tb.Fatalf("the sample did not start: %v", err)
	}
	return nil, stop
}
