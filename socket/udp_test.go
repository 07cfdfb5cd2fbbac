package socket_test

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netkit-go/netkit/socket"
)

func newUDP(t testing.TB, local *socket.Address, cfg *socket.UdpClientConfig) *socket.UdpClient {
	t.Helper()
	u, err := socket.NewUdpClient(testCtx(t), local, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}

// udpPeer is an independent UDP peer on 127.0.0.1.
func udpPeer(t testing.TB) *net.UDPConn {
	t.Helper()
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	pc.SetDeadline(time.Now().Add(15 * time.Second))
	t.Cleanup(func() { pc.Close() })
	return pc
}

// §2.6: UDP echo via sendTo/receiveFrom, with a UdpClient as the server.
func TestUDPEcho(t *testing.T) {
	ctx := testCtx(t)
	srv := newUDP(t, &socket.Address{Host: "127.0.0.1"}, nil)
	done := make(chan error, 1)
	go func() {
		b, n, from, err := srv.ReceiveFrom(ctx, socket.ReadAvailable)
		if err == nil && n != len(b) {
			err = errors.New("length and data disagree")
		}
		if err == nil {
			_, err = srv.SendTo(ctx, b, from)
		}
		done <- err
	}()
	cl := newUDP(t, nil, nil)
	msg := "Hello from UDP client"
	n, err := cl.SendTo(ctx, []byte(msg), socket.Address{Host: "localhost", Port: srv.LocalPort()})
	if err != nil || n != len(msg) {
		t.Fatalf("SendTo = %d, %v", n, err)
	}
	b, n, from, err := cl.ReceiveFrom(ctx, socket.ReadAvailable)
	if err != nil || string(b) != msg || n != len(msg) {
		t.Fatalf("ReceiveFrom = %q, %d, %v", b, n, err)
	}
	if from.Port != srv.LocalPort() || from.Host != "127.0.0.1" {
		t.Fatalf("sender %v, want 127.0.0.1:%d", from, srv.LocalPort())
	}
	if err := recv(t, done); err != nil {
		t.Fatal(err)
	}
}

// §2.6: a client bound to a fixed local port receives "This is server".
func TestUDPFixedLocalPort(t *testing.T) {
	var u *socket.UdpClient
	var port int
	for attempt := 0; u == nil; attempt++ {
		// Find a free port, then bind the client to it by number.
		probe, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		port = probe.LocalAddr().(*net.UDPAddr).Port
		probe.Close()
		u, err = socket.NewUdpClient(testCtx(t), &socket.Address{Host: "127.0.0.1", Port: port}, nil)
		if err != nil {
			if !errors.Is(err, syscall.EADDRINUSE) || attempt == 3 {
				t.Fatal(err)
			}
		}
	}
	defer u.Close()
	if u.LocalPort() != port || u.LocalAddress() != "127.0.0.1" {
		t.Fatalf("bound to %s:%d, want 127.0.0.1:%d", u.LocalAddress(), u.LocalPort(), port)
	}
	peer := udpPeer(t)
	if _, err := peer.WriteToUDP([]byte("This is server"), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}); err != nil {
		t.Fatal(err)
	}
	b, _, from, err := u.ReceiveFrom(testCtx(t), socket.ReadAvailable)
	if err != nil || string(b) != "This is server" {
		t.Fatalf("ReceiveFrom = %q, %v", b, err)
	}
	if from.Port != peer.LocalAddr().(*net.UDPAddr).Port {
		t.Fatalf("sender %v", from)
	}
	// Binding the same port again fails with Ballerina's message.
	_, err = socket.NewUdpClient(testCtx(t), &socket.Address{Host: "127.0.0.1", Port: port}, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "unable to bind the local socket port: Address already in use") ||
		!errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("second bind = %v", err)
	}
}

// §2.6: receiveFrom(56) joins two 28-byte datagrams; the part of a datagram
// beyond the length is discarded.
func TestUDPReceiveAccumulates(t *testing.T) {
	u := newUDP(t, &socket.Address{Host: "127.0.0.1"}, nil)
	peer := udpPeer(t)
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: u.LocalPort()}
	d1, d2 := strings.Repeat("a", 27)+"1", strings.Repeat("b", 27)+"2"
	peer.WriteToUDP([]byte(d1), to)
	peer.WriteToUDP([]byte(d2), to)
	ctx := testCtx(t)
	b, n, _, err := u.ReceiveFrom(ctx, 56)
	if err != nil || n != 56 || string(b) != d1+d2 {
		t.Fatalf("ReceiveFrom(56) = %q, %d, %v", b, n, err)
	}
	peer.WriteToUDP([]byte(d1), to)
	peer.WriteToUDP([]byte(d2), to)
	peer.WriteToUDP([]byte("next"), to)
	b, n, _, err = u.ReceiveFrom(ctx, 30)
	if err != nil || n != 30 || string(b) != d1+"bb" {
		t.Fatalf("ReceiveFrom(30) = %q, %d, %v", b, n, err)
	}
	if b, _, _, err := u.ReceiveFrom(ctx, socket.ReadAvailable); err != nil || string(b) != "next" {
		t.Fatalf("next datagram = %q, %v (the rest of the cut one must be gone)", b, err)
	}
	if _, _, _, err := u.ReceiveFrom(ctx, 0); err == nil || err.Error() != "requested byte length need to be 1 or more" {
		t.Fatalf("ReceiveFrom(0) = %v", err)
	}
}

// A ReceiveFrom timeout is typed and keeps what arrived; ctx's end is ctx's
// error; Close makes later calls fail with net.ErrClosed.
func TestUDPTimeouts(t *testing.T) {
	u := newUDP(t, &socket.Address{Host: "127.0.0.1"}, &socket.UdpClientConfig{ReadTimeout: 30 * time.Millisecond})
	peer := udpPeer(t)
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: u.LocalPort()}
	peer.WriteToUDP([]byte("half"), to)
	_, _, _, err := u.ReceiveFrom(testCtx(t), 8)
	if !errors.Is(err, socket.ErrReadTimedOut) || !errors.Is(err, os.ErrDeadlineExceeded) || err.Error() != "read timed out" {
		t.Fatalf("ReceiveFrom timeout = %#v", err)
	}
	peer.WriteToUDP([]byte("full"), to)
	if b, _, _, err := u.ReceiveFrom(testCtx(t), 8); err != nil || string(b) != "halffull" {
		t.Fatalf("after the timeout = %q, %v", b, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, _, err := u.ReceiveFrom(ctx, socket.ReadAvailable); !errors.Is(err, context.Canceled) {
		t.Fatalf("ReceiveFrom with a cancelled ctx = %v", err)
	}
	u.Close()
	if _, _, _, err := u.ReceiveFrom(testCtx(t), socket.ReadAvailable); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("ReceiveFrom after Close = %v", err)
	}
	if _, err := u.SendTo(testCtx(t), []byte("x"), socket.Address{Host: "127.0.0.1", Port: 9}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("SendTo after Close = %v", err)
	}
}

// A receive blocked without timeout is woken by ctx's cancellation.
func TestUDPCancelWakesReceive(t *testing.T) {
	u := newUDP(t, &socket.Address{Host: "127.0.0.1"}, &socket.UdpClientConfig{ReadTimeout: -1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, _, err := u.ReceiveFrom(ctx, socket.ReadAvailable)
		done <- err
	}()
	cancel()
	if err := recv(t, done); !errors.Is(err, context.Canceled) {
		t.Fatalf("ReceiveFrom = %v", err)
	}
}
