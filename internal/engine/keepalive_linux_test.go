package engine

import (
	"context"
	"net"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// acceptedKeepAlive listens with lc as Server.Listen does, accepts one
// loopback connection and returns its SO_KEEPALIVE, TCP_KEEPIDLE,
// TCP_KEEPINTVL and TCP_KEEPCNT.
func acceptedKeepAlive(t *testing.T, lc *net.ListenConfig) [4]int {
	t.Helper()
	ln, err := inheritKeepAlive(lc, "tcp").Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	rc, err := a.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var got [4]int
	var gerr error
	rc.Control(func(fd uintptr) {
		for i, o := range [...][2]int{{unix.SOL_SOCKET, unix.SO_KEEPALIVE}, {unix.IPPROTO_TCP, unix.TCP_KEEPIDLE}, {unix.IPPROTO_TCP, unix.TCP_KEEPINTVL}, {unix.IPPROTO_TCP, unix.TCP_KEEPCNT}} {
			v, err := unix.GetsockoptInt(int(fd), o[0], o[1])
			if err != nil && gerr == nil {
				gerr = err
			}
			got[i] = v
		}
	})
	if gerr != nil {
		t.Fatal(gerr)
	}
	return got
}

// An accepted connection has Go's default keep-alive (on, 15 s, 15 s, 9)
// when the ListenConfig leaves it at its default, though it is now set
// once on the listening socket; a ListenConfig that sets keep-alive, or
// turns it off, gets exactly what it asked for, per connection, as before.
func TestAcceptedConnectionsInheritKeepAlive(t *testing.T) {
	// Go sets nothing per accepted connection then, so what the accepted
	// connection has, it inherited from the listening socket.
	if lc := inheritKeepAlive(&net.ListenConfig{}, "tcp"); lc.KeepAlive >= 0 {
		t.Fatalf("per-accept keep-alive left on: KeepAlive %v", lc.KeepAlive)
	}
	if got, want := acceptedKeepAlive(t, &net.ListenConfig{}), [4]int{1, 15, 15, 9}; got != want {
		t.Fatalf("default: accepted keep-alive %v, want %v", got, want)
	}
	controlled := false
	lc := &net.ListenConfig{Control: func(string, string, syscall.RawConn) error { controlled = true; return nil }}
	if got, want := acceptedKeepAlive(t, lc), [4]int{1, 15, 15, 9}; got != want || !controlled {
		t.Fatalf("with a Control: accepted keep-alive %v (want %v), the caller's Control ran: %v", got, want, controlled)
	}
	if got := acceptedKeepAlive(t, &net.ListenConfig{KeepAlive: -1}); got[0] != 0 {
		t.Fatalf("KeepAlive -1: accepted keep-alive %v, want off", got)
	}
	if got := acceptedKeepAlive(t, &net.ListenConfig{KeepAlive: 40 * time.Second}); got[0] != 1 || got[1] != 40 {
		t.Fatalf("KeepAlive 40s: accepted keep-alive %v, want on with 40 s idle", got)
	}
}
