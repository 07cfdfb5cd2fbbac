//go:build linux

package engine

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/netkit-go/netkit/internal/evloop"
	"github.com/netkit-go/netkit/internal/goid"
)

// This file is the event-loop backend's connection: a plain-TCP stream
// connection detached from Go's poller and served by an evloop.Poller.
// evHandler runs the stream loop of loop.go as callbacks: Data for a read,
// EOF for the end of stream, Woken for a state change (Shutdown, a stop)
// or a timer, Closed for the end.

// serveOnPoller hands the connection, whose face f is open already, to p:
// it takes the socket from Go's poller and registers it. It reports false
// when the connection stays on the goroutine backend (the caller's loop
// goes on with f; if the registration failed, the connection is closed).
func (c *Conn) serveOnPoller(p *evloop.Poller, f StreamFace) bool {
	if _, ok := c.nc.(*net.TCPConn); !ok {
		return false
	}
	// No write and no Close may run while the socket changes hands.
	if c.lockWriteWait(context.Background(), false) != nil {
		return false
	}
	ok, regErr := c.detachTo(p, f)
	c.unlockWrite()
	if regErr != nil {
		c.Close(regErr) // the socket is gone (a stopping server's poller)
	}
	return ok
}

func (c *Conn) detachTo(p *evloop.Poller, f StreamFace) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Load() != stateOpen {
		return false, nil
	}
	fd, err := evloop.Detach(c.nc)
	if err != nil {
		return false, nil // not detached (a failed close of the original aside)
	}
	h := &evHandler{c: c, f: f}
	h.tf, _ = f.(TimerFace)
	h.gf, _ = f.(GracefulFace)
	pre := c.pre
	c.pre = nil
	c.goid.Store(0)
	ev, err := p.Register(fd, h, pre)
	if err != nil {
		unix.Close(fd)
		c.goid.Store(goid.Current())
		return false, err
	}
	c.ev.Store(ev)
	if h.tf != nil {
		ev.Wake() // Woken arms the face's first timer
	}
	return true, nil
}

// evHandler is an evloop.Handler and evloop.Waker for one connection.
type evHandler struct {
	c  *Conn
	ev *evloop.Conn // set by each callback
	f  StreamFace
	tf TimerFace
	gf GracefulFace

	endErr    error // what the face's Closed is told (nil: the cause)
	lingering bool  // the graceful end: input is discarded until EOF
	lingerAt  time.Time
	drained   bool // a stopping server's data was handed over
	draining  bool // ... is being handed over (Data pushes)

	tmu     sync.Mutex
	timer   evloop.Timer // on the shared wheel: no runtime timer per connection
	timerOn bool         // timer is initialised
	timerAt time.Time
}

// wheel holds the timers of every event-loop connection of the process.
// An empty wheel holds no goroutine and an unarmed runtime timer.
var wheel = sync.OnceValue(func() *evloop.Wheel { return evloop.NewWheel(evloop.WheelConfig{}) })

func (h *evHandler) enter(ev *evloop.Conn) {
	if h.ev == nil {
		h.ev = ev // once: the timer's func reads it
	}
	h.c.goid.Store(ev.Goroutine()) // no stack read per callback
}
func (h *evHandler) leave() { h.c.goid.Store(0) }

// end closes the connection, the face to be told err (as loop.go's
// finish(err) after its loop returned err).
func (h *evHandler) end(err error) {
	if h.endErr == nil {
		h.endErr = err
	}
	if err == io.EOF {
		err = ErrConnClosed
	}
	h.c.Close(err)
}

func (h *evHandler) Data(ev *evloop.Conn, p []byte) (int, error) {
	c := h.c
	h.enter(ev)
	defer h.leave()
	switch c.state.Load() {
	case stateClosed:
		return len(p), nil
	case stateGraceful:
		if !c.faceStop && !h.draining {
			return len(p), nil // lingering (or about to): discard
		}
	}
	consumed, err := c.push(h.f, p)
	if err != nil {
		if c.gracefulRequest(err) {
			h.step()
			return len(p), nil
		}
		h.end(err)
		return len(p), nil
	}
	h.after()
	return consumed, nil
}

func (h *evHandler) EOF(ev *evloop.Conn) error {
	c := h.c
	h.enter(ev)
	defer h.leave()
	switch c.state.Load() {
	case stateClosed:
		return nil
	case stateGraceful:
		if !c.faceStop {
			c.Close(ErrConnClosed) // the peer's EOF ends the linger
			return nil
		}
	}
	if c.cfg.AllowHalfClose && c.state.Load() == stateOpen {
		h.endErr = io.EOF
		return nil // half-closed until the face closes (Woken)
	}
	h.end(io.EOF)
	return nil
}

func (h *evHandler) Woken(ev *evloop.Conn) error {
	h.enter(ev)
	defer h.leave()
	h.step()
	return nil
}

// step is the top of loop.go's streamLoop: it acts on the state.
func (h *evHandler) step() {
	c := h.c
	for range 8 {
		switch c.state.Load() {
		case stateClosed:
			return
		case stateGraceful:
			if c.faceStop {
				break
			}
			if h.endErr == io.EOF {
				// Half-closed by the peer, now closed by us.
				c.CloseWrite()
				c.Close(ErrConnClosed)
				return
			}
			if h.lingering {
				if !time.Now().Before(h.lingerAt) {
					c.Close(ErrConnClosed)
					return
				}
				h.arm(h.lingerAt)
				return
			}
			stopping := errors.Is(c.Cause(), ErrListenerStopping)
			if stopping && !c.stopped && !h.drained {
				// Hand over what already arrived first (Data, this turn).
				h.drained, h.draining = true, true
				h.ev.WakeAfterDrain()
				return
			}
			h.draining = false
			if h.gf != nil && stopping && !c.stopped {
				c.stopped = true
				var ferr error
				if p := c.safely(func() { ferr = h.gf.Stopping(c) }); p != nil {
					ferr = p
				}
				switch {
				case ferr == nil && c.state.Load() == stateGraceful:
					c.faceStop = true
				case ferr == nil, c.gracefulRequest(ferr):
				default:
					h.end(ferr)
					return
				}
				continue
			}
			c.stopped = true
			if !c.keepW {
				c.CloseWrite()
			}
			h.lingering = true
			h.lingerAt = time.Now().Add(c.cfg.Linger)
			h.arm(h.lingerAt)
			return
		}
		if h.tf == nil {
			return
		}
		err := h.timers()
		if c.gracefulRequest(err) {
			continue
		} else if err != nil {
			h.end(err)
			return
		}
		if c.state.Load() != stateOpen && !c.faceStop {
			continue
		}
		return
	}
}

// after re-arms the face's timer after a callback.
func (h *evHandler) after() {
	if h.tf == nil || h.c.state.Load() != stateOpen && !h.c.faceStop {
		return
	}
	if err := h.timers(); h.c.gracefulRequest(err) {
		h.step()
	} else if err != nil {
		h.end(err)
	}
}

// timers fires the face's due timers and arms one for the next.
func (h *evHandler) timers() error {
	for range 4 {
		at := h.tf.NextTimer()
		if at.IsZero() {
			h.arm(time.Time{})
			return nil
		}
		if time.Now().Before(at) {
			h.arm(at)
			return nil
		}
		var err error
		if p := h.c.safely(func() { err = h.tf.Timer(h.c) }); p != nil {
			return p
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// arm makes the connection wake at at (the zero time: not at all). The
// wheel fires at most one tick (10 ms) late, never early.
func (h *evHandler) arm(at time.Time) {
	h.tmu.Lock()
	defer h.tmu.Unlock()
	if at.Equal(h.timerAt) {
		return
	}
	h.timerAt = at
	if !h.timerOn {
		if at.IsZero() {
			return
		}
		h.timerOn = true
		ev := h.ev
		h.timer.Init(wheel(), func() {
			h.tmu.Lock()
			h.timerAt = time.Time{}
			h.tmu.Unlock()
			ev.Wake()
		})
	}
	if at.IsZero() {
		h.timer.Stop()
		return
	}
	h.timer.Reset(time.Until(at))
}

func (h *evHandler) Closed(ev *evloop.Conn, err error) {
	c := h.c
	h.enter(ev)
	h.arm(time.Time{})
	if c.state.Load() != stateClosed && h.endErr == nil {
		h.endErr = err // a read error, or the poller closed
	}
	c.finish(h.endErr) // Config.ConnState's StateClosed runs in finish
	c.goid.Store(0)
	close(c.done)
}

// evWrite is writeLocked on the event-loop backend.
func (c *Conn) evWrite(ctx context.Context, ev *evloop.Conn, p []byte) (int, error) {
	dl, _ := ctx.Deadline()
	if c.cfg.WriteTimeout > 0 {
		if t := time.Now().Add(c.cfg.WriteTimeout); dl.IsZero() || t.Before(dl) {
			dl = t
		}
	}
	n, err := ev.Write(ctx, p, dl)
	return n, c.writeResult(ctx, nil, n, err)
}
