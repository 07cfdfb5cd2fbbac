package engine_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/engine"
	"github.com/netkit-go/netkit/internal/goid"
)

// The stream connection kind (Server.ServeStream, doc.go "Streams"), on
// both backends: a connection that is carried by another one (an HTTP/2
// stream) runs on its caller's goroutine, counts against MaxConnections,
// stops like an accepted connection, and never reaches the event loop.
// Its net.Conn here is a loopback socket hidden behind a type without
// SyscallConn, as an HTTP/2 stream has no descriptor.

type streamOnly struct{ net.Conn } // no SyscallConn: no descriptor

func (s streamOnly) CloseWrite() error { return s.Conn.(*net.TCPConn).CloseWrite() }

// streamPair returns the server side (as a stream) and the client side of
// a loopback connection.
func streamPair(t *testing.T) (server net.Conn, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client = dial(t, ln.Addr().String())
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return streamOnly{s}, client
}

func TestStreamKind(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Run("CallerGoroutineAndCap", func(t *testing.T) { streamCallerAndCap(t, b) })
			t.Run("GracefulStop", func(t *testing.T) { streamGraceful(t, b) })
			t.Run("ImmediateStop", func(t *testing.T) { streamImmediate(t, b) })
			t.Run("StopHook", func(t *testing.T) { streamStopHook(t, b) })
		})
	}
}

// serveStream runs f over nc on a new goroutine standing for the carrier's
// (x/net's handler goroutine); the result is sent when ServeStream returns.
func serveStream(srv *engine.Server, nc net.Conn, f engine.StreamFace) (caller chan uint64, done chan error) {
	caller, done = make(chan uint64, 1), make(chan error, 1)
	go func() {
		caller <- goid.Current()
		done <- srv.ServeStream(nc, f, nil, nil)
	}()
	return caller, done
}

func streamCallerAndCap(t *testing.T, b backend) {
	f := newFace()
	openG := make(chan uint64, 2)
	f.open = func(c *engine.Conn) error { openG <- goid.Current(); return nil }
	// A started server (the event loop would take socket connections).
	srv, _ := serve(t, b, engine.Config{MaxConnections: 2}, f)
	s1, c1 := streamPair(t)
	caller, done := serveStream(srv, s1, f)
	recvT(t, f.opened, "Open")
	if g := recvT(t, caller, "the caller"); recvT(t, openG, "Open's goroutine") != g {
		t.Fatal("Open did not run on ServeStream's caller goroutine")
	}
	echoOnce(t, c1, "stream") // served on that goroutine, not the event loop
	s2, _ := streamPair(t)
	_, done2 := serveStream(srv, s2, f)
	recvT(t, f.opened, "Open")
	if !srv.Full() || srv.Len() != 2 {
		t.Fatalf("Full %v, Len %d with two streams at MaxConnections 2", srv.Full(), srv.Len())
	}
	s3, _ := streamPair(t)
	if err := srv.ServeStream(s3, f, nil, func() error { t.Error("accepted ran at the cap"); return nil }); err != engine.ErrTooManyConnections {
		t.Fatalf("a third stream at MaxConnections 2: %v, want ErrTooManyConnections", err)
	}
	c1.Close()
	if err := recvT(t, done, "ServeStream's return"); err != nil {
		t.Fatalf("ServeStream: %v", err)
	}
	recvT(t, f.closed, "Closed")
	if srv.Full() || srv.Len() != 1 {
		t.Fatalf("after one stream ended: Full %v, Len %d", srv.Full(), srv.Len())
	}
	srv.ImmediateStop()
	recvT(t, done2, "the second ServeStream's return")
}

func streamGraceful(t *testing.T, b backend) {
	f := newFace()
	var onLoop atomic.Bool
	f.stop = func(c *engine.Conn) error {
		onLoop.Store(c.OnLoop())
		_, err := c.Write(context.Background(), []byte("bye"))
		return err
	}
	f.data = func(c *engine.Conn, p []byte) (int, error) {
		if string(p) == "ack" {
			return len(p), engine.ErrCloseGracefully
		}
		_, err := c.Write(context.Background(), p)
		return len(p), err
	}
	srv, _ := serve(t, b, engine.Config{}, stopFace{f})
	s, c := streamPair(t)
	_, done := serveStream(srv, s, stopFace{f})
	recvT(t, f.opened, "Open")
	stopped := make(chan error, 1)
	go func() { stopped <- srv.GracefulStop(context.Background()) }()
	c.SetReadDeadline(time.Now().Add(within))
	buf := make([]byte, 3)
	if _, err := c.Read(buf); err != nil || string(buf) != "bye" {
		t.Fatalf("goodbye %q %v", buf, err)
	}
	c.Write([]byte("ack"))
	readEOF(t, c)
	c.Close()
	recvT(t, done, "ServeStream's return")
	if err := recvT(t, stopped, "GracefulStop"); err != nil {
		t.Fatal(err)
	}
	if !onLoop.Load() {
		t.Fatal("Stopping did not run on the stream's goroutine")
	}
	if n := f.closedN.Load(); n != 1 {
		t.Fatalf("Closed ran %d times", n)
	}
}

func streamImmediate(t *testing.T, b backend) {
	f := newFace()
	srv, _ := serve(t, b, engine.Config{}, f)
	s, c := streamPair(t)
	_, done := serveStream(srv, s, f)
	recvT(t, f.opened, "Open")
	srv.ImmediateStop()
	if err := recvT(t, f.closed, "Closed"); err == nil {
		t.Fatal("Closed without the stop's cause")
	}
	recvT(t, done, "ServeStream's return")
	readEOF(t, c)
}

// A carrier connection with a stop hook is not woken by a graceful stop:
// the hook runs instead, and the carrier ends when it chooses.
func streamStopHook(t *testing.T, b backend) {
	hooked := make(chan struct{}, 1)
	release := make(chan struct{})
	var readErr atomic.Value
	hookSet := make(chan struct{})
	cf := connFaceFunc(func(c *engine.Conn) {
		c.SetStopHook(func() { hooked <- struct{}{} })
		close(hookSet)
		buf := make([]byte, 16)
		// Blocks until the client writes: a wake-up (a read deadline in the
		// past, set before or during the read) would fail it. It reads the
		// net.Conn, as a carrier (the websocket Listener's HTTP/2 server)
		// does: the engine's own Read refuses once the stop has begun.
		if _, err := c.NetConn().Read(buf); err != nil {
			readErr.Store(err)
		}
		<-release
	})
	srv, addr := serve(t, b, engine.Config{}, cf)
	c := dial(t, addr)
	// The stop comes after the hook is set (counted in Len is not enough:
	// a stop before SetStopHook wakes the connection, as it should).
	recvT(t, hookSet, "SetStopHook")
	stopped := make(chan error, 1)
	go func() { stopped <- srv.GracefulStop(context.Background()) }()
	recvT(t, hooked, "the stop hook")
	c.Write([]byte("still read"))
	close(release)
	c.Close() // the carrier's own goodbye done, the peer hangs up
	if err := recvT(t, stopped, "GracefulStop"); err != nil {
		t.Fatal(err)
	}
	if err := readErr.Load(); err != nil {
		t.Fatalf("the carrier's read was woken by the stop: %v", err)
	}
}

type connFaceFunc func(c *engine.Conn)

func (f connFaceFunc) Serve(c *engine.Conn) { f(c) }
