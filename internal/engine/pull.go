package engine

import (
	"context"
	"errors"
	"net"
	"time"
)

// This file holds the two helpers of pull-style faces (socket 1.x): waiting
// for readability without reading, and shutting down the read side.

// WaitReadable blocks until a read on the connection would not block: data
// has arrived, the peer's end of stream has, or the socket failed. It reads
// nothing and holds no buffer (the same peek-based wait as the stream loop),
// so a following [Conn.Read] gets every byte. It returns nil then, and at
// once while bytes given to SetBuffered/AdoptBuffered are still unread.
//
// It returns ctx's error when ctx ends first, and the close cause (matching
// net.ErrClosed) once [Conn.Shutdown] or [Conn.Close] was called; either wakes
// a waiting call. ConnConfig.ReadTimeout does not apply: an idle connection
// may wait as long as ctx allows. The wait shares the read deadline with
// Read, so call it from the goroutine that reads (a ConnFace's Serve).
//
// On connections that cannot wait without reading (TLS, platforms other than
// unix) it returns at once (nil, or ctx's error), and the next Read does the
// waiting.
func (c *Conn) WaitReadable(ctx context.Context) error {
	if c.state.Load() != stateOpen {
		return c.closedErr()
	}
	if c.rc == nil || len(c.pre) > 0 { // cannot wait, or bytes already buffered
		return ctx.Err()
	}
	dl, hasDL := ctx.Deadline()
	if stop := c.watch(ctx, false); stop != nil {
		defer stop()
	}
	// A stale wake-up (an earlier call's AfterFunc firing late) is retried
	// once with a fresh deadline.
	for attempt := 0; ; attempt++ {
		c.nc.SetReadDeadline(dl) // zero time clears
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if c.state.Load() != stateOpen { // raced with Shutdown's wake-up
			return c.closedErr()
		}
		err := c.rc.Read(c.waitFn)
		switch {
		case err == nil:
			return nil
		case c.state.Load() != stateOpen:
			return c.closedErr()
		case isTimeout(err):
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if hasDL && !time.Now().Before(dl) {
				return context.DeadlineExceeded
			}
			if attempt > 0 {
				// Report readiness; the next Read sorts it out.
				c.nc.SetReadDeadline(time.Time{})
				return nil
			}
		case errors.Is(err, net.ErrClosed):
			return c.closedErr()
		default:
			return err
		}
	}
}

// CloseRead shuts down the read side of the socket: later reads (and
// WaitReadable) see end of stream, while writes go on. A loop serving the
// connection ends as for the peer's EOF. Connections without a read side to
// shut down (TLS) return errors.ErrUnsupported.
func (c *Conn) CloseRead() error {
	if c.state.Load() == stateClosed {
		return c.closedErr()
	}
	cr, ok := c.nc.(interface{ CloseRead() error })
	if !ok {
		return errors.ErrUnsupported
	}
	err := cr.CloseRead()
	if err != nil && errors.Is(err, net.ErrClosed) {
		return c.closedErr()
	}
	return err
}
