package engine

import (
	"context"
	"errors"
	"io"
	"net"
	"time"

	"github.com/netkit-go/netkit/internal/bufpool"
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
	_, _, err := c.pullWait(ctx, false, 0)
	return err
}

// ReadPooled is WaitReadable and a Read into a pooled buffer of the given
// size class (see bufpool) in one step: the read after the poller's
// wake-up is the wait's only system call. It returns the buffer, which the
// caller owns and gives back with bufpool.Put, and the bytes read; buf is
// nil when n is 0. Errors are Read's: io.EOF at end of stream, ctx's
// error, the close cause (matching net.ErrClosed). As with WaitReadable,
// ConnConfig.ReadTimeout does not bound the wait.
func (c *Conn) ReadPooled(ctx context.Context, class int) (buf *[]byte, n int, err error) {
	if c.state.Load() != stateOpen {
		return nil, 0, c.closedErr()
	}
	if c.rc == nil || len(c.pre) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		buf = bufpool.GetMapped(class)
		if n, err = c.Read(ctx, *buf); n == 0 {
			bufpool.Put(buf)
			return nil, 0, err
		}
		return buf, n, err
	}
	if ctx.Done() != nil && ctx.Err() == nil {
		// Data already waiting needs no deadline and no cancellation watch.
		c.rdOnce = true
		buf, n, err = c.readPooled(class)
		c.rdOnce = false
		// A failed attempt to start (a deadline left in the past by an
		// earlier call, a wake-up) is the waiting path's to sort out.
		if buf != nil || err != errWouldBlock && !isTimeout(err) {
			return buf, n, c.pullErr(err)
		}
	}
	return c.pullWait(ctx, true, class)
}

// errWouldBlock is readPooled's result for a single attempt (rdOnce) that
// found nothing to read.
var errWouldBlock = errors.New("engine: would block")

// pullErr maps an error of a pull read to what Read returns.
func (c *Conn) pullErr(err error) error {
	switch {
	case err == nil, err == io.EOF:
		return err
	case c.state.Load() != stateOpen, errors.Is(err, net.ErrClosed):
		return c.closedErr()
	}
	return err
}

// pullWait waits, bounded by ctx, until the connection is readable; with
// pooled it also reads into a pooled buffer of class (ReadPooled).
func (c *Conn) pullWait(ctx context.Context, pooled bool, class int) (buf *[]byte, n int, err error) {
	dl, hasDL := ctx.Deadline()
	if stop := c.watch(ctx, false); stop != nil {
		defer stop()
	}
	// A stale wake-up (an earlier call's AfterFunc firing late) is retried
	// once with a fresh deadline.
	for attempt := 0; ; attempt++ {
		c.nc.SetReadDeadline(dl) // zero time clears
		if ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
		if c.state.Load() != stateOpen { // raced with Shutdown's wake-up
			return nil, 0, c.closedErr()
		}
		if pooled {
			buf, n, err = c.readPooled(class)
		} else {
			err = c.rc.Read(c.waitFn)
		}
		switch {
		case buf != nil, err == nil, err == io.EOF:
			return buf, n, err
		case c.state.Load() != stateOpen:
			return nil, 0, c.closedErr()
		case isTimeout(err):
			if ctx.Err() != nil {
				return nil, 0, ctx.Err()
			}
			if hasDL && !time.Now().Before(dl) {
				return nil, 0, context.DeadlineExceeded
			}
			if attempt > 0 {
				// Report readiness; the next Read sorts it out.
				c.nc.SetReadDeadline(time.Time{})
				if pooled {
					continue
				}
				return nil, 0, nil
			}
		case errors.Is(err, net.ErrClosed):
			return nil, 0, c.closedErr()
		default:
			return nil, 0, err
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
