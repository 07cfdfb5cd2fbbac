package tcp

import (
	"io"
	"net"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netkit-go/netkit/internal/engine"
)

// closeCounter is a ConnectionService that echoes and counts OnClose.
type closeCounter struct{ closed atomic.Int32 }

func (c *closeCounter) OnBytes(_ *Caller, p []byte) ([]byte, error) { return p, nil }
func (c *closeCounter) OnClose(*Caller)                             { c.closed.Add(1) }

// IdleTimeout closes a connection that read nothing for that long, and
// each arrival restarts it (on a fake clock).
func TestIdleTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, peer := net.Pipe()
		defer peer.Close()
		svc := &closeCounter{}
		s := &session{connect: ServiceFunc(func(*Caller) (ConnectionService, error) { return svc, nil }), idle: 5 * time.Second}
		ec := engine.NewConn(srv, engine.ConnConfig{})
		s.conn = ec
		ec.Start(s)
		echo := func(msg string) {
			t.Helper()
			if _, err := peer.Write([]byte(msg)); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, len(msg))
			if _, err := io.ReadFull(peer, buf); err != nil || string(buf) != msg {
				t.Fatalf("echo %q %v", buf, err)
			}
		}
		echo("a")
		time.Sleep(4 * time.Second)
		synctest.Wait()
		if svc.closed.Load() != 0 {
			t.Fatal("closed before IdleTimeout")
		}
		echo("b") // restarts the timeout
		time.Sleep(4 * time.Second)
		synctest.Wait()
		if svc.closed.Load() != 0 {
			t.Fatal("closed 4 s after the last bytes")
		}
		if !ec.IsOpen() {
			t.Fatal("closing 4 s after the last bytes")
		}
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		if ec.IsOpen() {
			t.Fatal("still open after IdleTimeout")
		}
		peer.Close() // ends the linger of the graceful close
		<-ec.Done()
		if n := svc.closed.Load(); n != 1 {
			t.Fatalf("OnClose ran %d times after the idle timeout", n)
		}
	})
}
