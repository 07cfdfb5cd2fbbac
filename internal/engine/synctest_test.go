package engine_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netkit-go/netkit/internal/engine"
)

// The timer-driven bounds of the contract, on a fake clock: net.Pipe
// connections adopted into a server inside a synctest bubble (the goroutine
// backend's own path; the contract suite covers the same behaviour on real
// sockets for every backend).

// adoptPipe adopts one end of a net.Pipe into srv with f and returns the
// other end.
func adoptPipe(t *testing.T, srv *engine.Server, f engine.Face) net.Conn {
	t.Helper()
	a, b := net.Pipe()
	if srv.Adopt(a, f) == nil {
		t.Fatal("Adopt refused")
	}
	return b
}

// A graceful close lingers for the peer's EOF for exactly Linger.
func TestSynctestLingerBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFace()
		f.data = func(c *engine.Conn, p []byte) (int, error) { return len(p), engine.ErrCloseGracefully }
		srv := engine.NewServer(engine.Config{Conn: engine.ConnConfig{Linger: 3 * time.Second}})
		peer := adoptPipe(t, srv, f)
		defer peer.Close()
		start := time.Now()
		peer.Write([]byte("bye"))
		<-f.closed // the peer never sends EOF
		if d := time.Since(start); d != 3*time.Second {
			t.Fatalf("lingered %v, want Linger 3s", d)
		}
	})
}

// A stuck callback: GracefulStop returns at its ctx's deadline, and
// ImmediateStop after ImmediateStopWait, not when the callback returns.
func TestSynctestStopsWithAStuckCallback(t *testing.T) {
	for _, immediate := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			f := newFace()
			release := make(chan struct{})
			f.data = func(c *engine.Conn, p []byte) (int, error) { <-release; return len(p), nil }
			srv := engine.NewServer(engine.Config{Conn: engine.ConnConfig{Logger: quiet}})
			peer := adoptPipe(t, srv, f)
			defer peer.Close()
			peer.Write([]byte("x"))
			synctest.Wait() // the callback is stuck
			start := time.Now()
			want := engine.ImmediateStopWait
			if immediate {
				if err := srv.ImmediateStop(); err != nil {
					t.Fatal(err)
				}
			} else {
				want = 200 * time.Millisecond
				ctx, cancel := context.WithTimeout(context.Background(), want)
				if err := srv.GracefulStop(ctx); !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("GracefulStop: %v", err)
				}
				cancel()
			}
			if d := time.Since(start); d != want {
				t.Fatalf("immediate=%v: returned after %v, want %v", immediate, d, want)
			}
			close(release)
			<-f.closed
		})
	}
}
