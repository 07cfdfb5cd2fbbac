//go:build linux

package evloop

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

var errIdle = errors.New("test: idle timeout")

// idleConn shows the seam between the wheel and the poller that the
// engine will use: one Timer embedded per connection, reset on activity;
// its func only wakes the connection, and the decision runs in the
// connection's turn (Woken), never concurrently with Data.
type idleConn struct {
	echo
	timer    Timer
	c        atomic.Pointer[Conn]
	idle     time.Duration
	lastData atomic.Int64 // unix nanos
}

func (h *idleConn) Data(c *Conn, p []byte) (int, error) {
	h.lastData.Store(time.Now().UnixNano())
	h.timer.Reset(h.idle)
	return h.echo.Data(c, p)
}

func (h *idleConn) Woken(c *Conn) error {
	if time.Since(time.Unix(0, h.lastData.Load())) >= h.idle {
		return errIdle
	}
	return nil
}

func (h *idleConn) Closed(c *Conn, err error) {
	h.timer.Stop()
	h.echo.Closed(c, err)
}

func TestIdleTimeoutThroughWheel(t *testing.T) {
	p := newPoller(t, Config{})
	w := NewWheel(WheelConfig{Tick: 5 * time.Millisecond})
	defer w.Stop()
	cl, fd := pair(t)
	h := &idleConn{echo: *newEcho(), idle: 100 * time.Millisecond}
	h.timer.Init(w, func() {
		if c := h.c.Load(); c != nil {
			c.Wake()
		}
	})
	h.lastData.Store(time.Now().UnixNano())
	c, err := p.Register(fd, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.c.Store(c)
	h.timer.Reset(h.idle)
	start := time.Now()
	for range 3 { // activity keeps it open
		roundTrip(t, cl, []byte("x"))
	}
	if err := h.waitClosed(t); err != errIdle {
		t.Fatalf("Closed cause = %v, want the idle timeout", err)
	}
	if d := time.Since(start); d < h.idle {
		t.Fatalf("closed after %v, before the idle timeout of %v", d, h.idle)
	}
	if w.Pending() != 0 {
		t.Fatal("timer still pending after Closed")
	}
}
