package engine

import (
	"context"
	"net"
)

// This file exposes the write lock to faces that write one logical unit as
// several writes (a WebSocket message split into frames, a header and a
// payload) and need them not to interleave with other writers.

// LockWrite takes the connection's write lock as [Conn.Write] does: at most
// MaxPendingWrites callers wait (one more gets [ErrSendQueueFull]), bounded
// by ctx and WriteTimeout. Release it with [Conn.UnlockWrite].
func (c *Conn) LockWrite(ctx context.Context) error { return c.lockWrite(ctx) }

// TryLockWrite takes the write lock only if it is free.
func (c *Conn) TryLockWrite() bool {
	select {
	case c.wlock <- struct{}{}:
		return true
	default:
		return false
	}
}

// UnlockWrite releases the write lock taken by LockWrite or TryLockWrite.
func (c *Conn) UnlockWrite() { c.unlockWrite() }

// WriteHeld is [Conn.Write] for a caller that holds the write lock.
func (c *Conn) WriteHeld(ctx context.Context, p []byte) (int, error) {
	return c.writeLocked(ctx, p)
}

// WriteBuffersHeld is [Conn.WriteBuffers] for a caller that holds the write
// lock.
func (c *Conn) WriteBuffersHeld(ctx context.Context, bufs *net.Buffers) (int64, error) {
	if c.wclosed || c.state.Load() == stateClosed {
		return 0, c.closedErr()
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if ev := c.ev.Load(); ev != nil {
		var total int64
		for _, b := range *bufs {
			n, err := c.evWrite(ctx, ev, b)
			total += int64(n)
			if err != nil {
				if total > int64(n) && n == 0 {
					// An earlier slice went out: the stream is broken.
					c.Close(err)
					err = &partialWriteError{n: int(total), err: err}
				}
				*bufs = nil
				return total, err
			}
		}
		*bufs = nil
		return total, nil
	}
	stop := c.armWrite(ctx)
	n, err := bufs.WriteTo(c.nc)
	return n, c.writeResult(ctx, stop, int(n), err)
}

// CloseWriteHeld is [Conn.CloseWrite] for a caller that holds the write lock.
func (c *Conn) CloseWriteHeld() error { return c.closeWriteLocked() }
