package engine

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// A read whose ctx deadline expires reports ctx's error, even though the
// socket deadline (set from ctx) fires before ctx's own timer.
func TestReadCtxDeadlineIsCtxError(t *testing.T) {
	nc, peer := tcpPair(t)
	c := NewConn(nc, ConnConfig{ReadTimeout: time.Hour, WriteTimeout: time.Hour})
	defer c.Close(nil)
	buf := make([]byte, 8)
	for i := 0; i < 50; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		_, err := c.Read(ctx, buf)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("try %d: err = %v, want context.DeadlineExceeded", i, err)
		}
	}
	// The configured timeout, when it is the earlier, reports a timeout error.
	c2 := NewConn(peer, ConnConfig{ReadTimeout: time.Millisecond})
	if _, err := c2.Read(context.Background(), buf); !errors.Is(err, ErrReadTimeout) {
		t.Fatalf("err = %v, want ErrReadTimeout", err)
	}
}

// Cancelling a ctx that also has a deadline interrupts a blocked read and
// write at once (not only when the deadline passes).
func TestCancelCtxWithDeadlineInterrupts(t *testing.T) {
	nc, peer := tcpPair(t)
	c := NewConn(nc, ConnConfig{})
	defer c.Close(nil)

	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(ctx, make([]byte, 8))
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("read: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancelling the ctx did not interrupt the read")
	}
	// The connection is still usable.
	peer.Write([]byte("ok"))
	buf := make([]byte, 2)
	if n, err := c.Read(context.Background(), buf); err != nil || string(buf[:n]) != "ok" {
		t.Fatalf("read after cancel: %q %v", buf[:n], err)
	}

	// A write that blocks (the peer does not read) is interrupted too.
	wctx, wcancel := context.WithTimeout(context.Background(), time.Hour)
	go func() {
		_, err := c.Write(wctx, make([]byte, 64<<20))
		done <- err
	}()
	wcancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("write: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancelling the ctx did not interrupt the write")
	}
}

// tcpPair returns both ends of a loopback TCP connection; the peer end is
// closed at cleanup (the tests wrap nc in a Conn and close that).
func tcpPair(t *testing.T) (nc, peer net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nc, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer, err = ln.Accept()
	if err != nil {
		nc.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	return nc, peer
}
