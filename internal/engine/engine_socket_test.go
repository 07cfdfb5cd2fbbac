package engine_test

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/engine"
	"github.com/netkit-go/netkit/internal/leakcheck"
)

// TestMain is here because this is the engine's first test file; another
// engine test file must not define a second one.
func TestMain(m *testing.M) { leakcheck.Main(m) }

// pair returns an engine.Conn wrapping one end of a loopback TCP connection
// and the plain other end; both are closed at cleanup.
func pair(t *testing.T, cfg engine.ConnConfig) (*engine.Conn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	nc, err := ln.Accept()
	if err != nil {
		peer.Close()
		t.Fatal(err)
	}
	peer.SetDeadline(time.Now().Add(15 * time.Second))
	c := engine.NewConn(nc, cfg)
	t.Cleanup(func() { c.Close(nil); peer.Close() })
	return c, peer.(*net.TCPConn)
}

func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestWaitReadableConsumesNothing(t *testing.T) {
	c, peer := pair(t, engine.ConnConfig{})
	peer.Write([]byte("hello"))
	if err := c.WaitReadable(bounded(t)); err != nil {
		t.Fatal(err)
	}
	// Data is there: a second wait returns at once, and Read gets it all.
	if err := c.WaitReadable(bounded(t)); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 16)
	n, err := c.Read(bounded(t), b)
	if err != nil || string(b[:n]) != "hello" {
		t.Fatalf("Read = %q, %v", b[:n], err)
	}
	// End of stream is readable too.
	peer.CloseWrite()
	if err := c.WaitReadable(bounded(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(bounded(t), b); err != io.EOF {
		t.Fatalf("Read at EOF = %v", err)
	}
}

func TestWaitReadableContext(t *testing.T) {
	c, peer := pair(t, engine.ConnConfig{ReadTimeout: time.Millisecond}) // ReadTimeout does not apply
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := c.WaitReadable(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitReadable past ctx's deadline = %v", err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.WaitReadable(ctx2) }()
	cancel2()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitReadable with cancelled ctx = %v", err)
	}
	// The connection is unaffected.
	peer.Write([]byte("x"))
	if err := c.WaitReadable(bounded(t)); err != nil {
		t.Fatal(err)
	}
}

func TestWaitReadableWokenByShutdown(t *testing.T) {
	c, _ := pair(t, engine.ConnConfig{})
	done := make(chan error, 1)
	go func() { done <- c.WaitReadable(context.Background()) }()
	c.Shutdown(nil)
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("WaitReadable after Shutdown = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not wake WaitReadable")
	}
	if err := c.WaitReadable(context.Background()); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("WaitReadable on a closing conn = %v", err)
	}
}

func TestCloseRead(t *testing.T) {
	c, peer := pair(t, engine.ConnConfig{})
	if err := c.CloseRead(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(bounded(t), make([]byte, 4)); err != io.EOF {
		t.Fatalf("Read after CloseRead = %v", err)
	}
	if _, err := c.Write(bounded(t), []byte("ok")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 2)
	if _, err := io.ReadFull(peer, b); err != nil || string(b) != "ok" {
		t.Fatalf("peer read %q, %v", b, err)
	}
	c.Close(nil)
	if err := c.CloseRead(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("CloseRead after Close = %v", err)
	}
}

// pullEcho is a ConnFace in the socket 1.x manner: wait, then pull.
type pullEcho struct{}

func (pullEcho) Serve(c *engine.Conn) {
	b := make([]byte, 64)
	for {
		if err := c.WaitReadable(context.Background()); err != nil {
			return
		}
		n, err := c.Read(context.Background(), b)
		if err != nil {
			return
		}
		c.Write(context.Background(), b[:n])
	}
}

// A server's GracefulStop wakes a ConnFace waiting in WaitReadable, and the
// peer sees FIN.
func TestWaitReadableInServer(t *testing.T) {
	srv := engine.NewServer(engine.Config{NewFace: func(*engine.Conn) engine.Face { return pullEcho{} }})
	if err := srv.Listen(nil, "tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.ImmediateStop()
	nc, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(15 * time.Second))
	nc.Write([]byte("ping"))
	b := make([]byte, 4)
	if _, err := io.ReadFull(nc, b); err != nil || string(b) != "ping" {
		t.Fatalf("echo %q, %v", b, err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- srv.GracefulStop(bounded(t)) }()
	if rest, err := io.ReadAll(nc); err != nil || len(rest) != 0 {
		t.Fatalf("after GracefulStop the peer read %q, %v; want EOF", rest, err)
	}
	nc.Close()
	if err := <-stopped; err != nil {
		t.Fatalf("GracefulStop = %v", err)
	}
}

// Bytes handed over with SetBuffered count as readable.
func TestWaitReadableBuffered(t *testing.T) {
	c, _ := pair(t, engine.ConnConfig{})
	c.SetBuffered([]byte("pre"))
	if err := c.WaitReadable(bounded(t)); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 8)
	if n, err := c.Read(bounded(t), b); err != nil || string(b[:n]) != "pre" {
		t.Fatalf("Read = %q, %v", b[:n], err)
	}
}
