package engine_test

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/bufpool"
	"github.com/netkit-go/netkit/internal/engine"
)

// The tests here cover the paths that skip the poller: the non-blocking
// first write attempt and the wait that reads straight into a pooled buffer.

// A write whose ctx has already ended sends nothing, although the socket
// could take the bytes without blocking.
func TestWriteWithEndedCtxSendsNothing(t *testing.T) {
	c, peer := pair(t, engine.ConnConfig{WriteTimeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if n, err := c.Write(ctx, []byte("never")); n != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("Write = %d, %v; want 0, context.Canceled", n, err)
	}
	if _, err := c.Write(bounded(t), []byte("ok")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if n, err := io.ReadAtLeast(peer, buf, 2); err != nil || string(buf[:n]) != "ok" {
		t.Fatalf("peer read %q %v; want \"ok\" only", buf[:n], err)
	}
}

// reset makes the peer end of a pair send a RST.
func reset(t *testing.T, peer *net.TCPConn) {
	t.Helper()
	if err := peer.SetLinger(0); err != nil {
		t.Fatal(err)
	}
	peer.Close()
}

// A write to a reset connection fails with net's own error type (an
// *net.OpError wrapping the errno), and the connection is closed.
func TestWriteAfterResetIsTyped(t *testing.T) {
	c, peer := pair(t, engine.ConnConfig{WriteTimeout: time.Minute})
	reset(t, peer)
	// The first write may still be accepted by the kernel; the RST makes a
	// later one fail. Bounded: a few attempts suffice on loopback.
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = c.Write(context.Background(), []byte("data"))
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "write" {
		t.Fatalf("err = %#v, want a *net.OpError with Op write", err)
	}
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("err = %v, want ECONNRESET or EPIPE", err)
	}
	if c.IsOpen() {
		t.Fatal("connection still open after a failed write")
	}
}

// ReadPooled returns data in a pooled buffer, then io.EOF for an EOF that
// arrived together with the data.
func TestReadPooledDataThenEOF(t *testing.T) {
	for _, name := range []string{"background", "cancellable"} {
		t.Run(name, func(t *testing.T) {
			c, peer := pair(t, engine.ConnConfig{WriteTimeout: time.Minute})
			ctx := context.Background()
			if name == "cancellable" {
				ctx = bounded(t)
			}
			peer.Write([]byte("last"))
			peer.Close()
			var got []byte
			for {
				buf, n, err := c.ReadPooled(ctx, 0)
				if buf != nil {
					got = append(got, (*buf)[:n]...)
					bufpool.Put(buf)
				}
				if err == io.EOF {
					break
				}
				if err != nil || buf == nil {
					t.Fatalf("ReadPooled: buf %v, err %v", buf != nil, err)
				}
			}
			if string(got) != "last" {
				t.Fatalf("got %q, want \"last\"", got)
			}
		})
	}
}

// ReadPooled reports a reset as net's error type, and a ctx that ends while
// it waits as ctx's error, leaving the connection usable.
func TestReadPooledErrors(t *testing.T) {
	c, peer := pair(t, engine.ConnConfig{WriteTimeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		buf, _, err := c.ReadPooled(ctx, 0)
		if buf != nil {
			bufpool.Put(buf)
			err = errors.New("got data")
		}
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("ReadPooled with cancelled ctx: %v", err)
	}
	// A deadline left in the past by the cancellation does not fail the
	// next call.
	peer.Write([]byte("x"))
	buf, n, err := c.ReadPooled(bounded(t), 0)
	if err != nil || buf == nil || string((*buf)[:n]) != "x" {
		t.Fatalf("ReadPooled after cancel: %v", err)
	}
	bufpool.Put(buf)

	reset(t, peer)
	buf, _, err = c.ReadPooled(context.Background(), 0)
	if buf != nil {
		t.Fatal("data from a reset connection")
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "read" || !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("err = %v, want a read *net.OpError wrapping ECONNRESET", err)
	}
}
