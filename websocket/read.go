package websocket

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"time"

	"github.com/netkit-go/netkit/internal/bufpool"
	"github.com/netkit-go/netkit/internal/wsproto"
)

// Read waits for the next whole message (fragments reassembled,
// decompressed, text checked as UTF-8), appends its payload to buf and
// returns the extended slice: with a buf of enough capacity it allocates
// nothing. Pings are answered and pongs skipped while reading.
//
// ctx bounds the wait; when it ends, Read returns ctx's error, nothing is
// lost (a partly received message stays buffered) and the next Read goes on.
// When the peer closes, Read echoes the close and returns a *CloseError
// (1006 when the TCP connection dropped without a close frame); after a
// protocol violation it closes with the right code and returns an
// error matching [ErrCorruptedFrame] or [ErrPayloadTooLarge]. Both match
// net.ErrClosed and are returned again by later calls.
//
// Read is for connections from Accept (and clients); on a connection served
// by a Service it returns ErrCallbackMode. One Read runs at a time; a
// concurrent one waits.
func (c *Conn) Read(ctx context.Context, buf []byte) (MessageType, []byte, error) {
	if c.sess != nil {
		return 0, buf, ErrCallbackMode
	}
	select {
	case c.rsem <- struct{}{}:
	default:
		select {
		case c.rsem <- struct{}{}:
		case <-ctx.Done():
			return 0, buf, ctx.Err()
		}
	}
	typ, out, err := c.readHeld(ctx, buf, false)
	<-c.rsem
	return typ, out, err
}

// readHeld is Read's loop; the caller holds rsem. With discard, data
// messages are dropped (waiting for a close echo). Pings are answered
// automatically unless the connection has a PingPongHandler (a Client's),
// which is then told of pings and pongs.
func (c *Conn) readHeld(ctx context.Context, buf []byte, discard bool) (MessageType, []byte, error) {
	if c.readErr != nil {
		return 0, buf, c.readErr
	}
	for {
		if c.rp < c.rn {
			n, m, err := c.reader().Parse((*c.rbuf)[c.rp:c.rn])
			c.rp += n
			if err != nil {
				c.parseFailed = true
				c.releaseRead()
				code, reason, out := protocolErr(err)
				c.sendClose(context.Background(), code, reason)
				c.finishPull(out)
				return 0, buf, out
			}
			switch m.Op {
			case wsproto.OpText, wsproto.OpBinary:
				c.cfg.obs.Received(msgType(m.Op), len(m.Data))
				if discard || c.sent.Load() {
					break
				}
				out := append(buf, m.Data...)
				c.mr.Release()
				if c.rp == c.rn {
					c.releaseRead()
				}
				return MessageType(m.Op), out, nil
			case wsproto.OpPing:
				if c.pingPong != nil && c.pingPong.ping != nil {
					c.callPingPong(func() error { return c.pingPong.ping.OnPing(c, m.Data) })
				} else if !c.sent.Load() {
					if err := c.writeControl(context.Background(), wsproto.OpPong, m.Data); err != nil {
						c.mr.Release()
						c.releaseRead()
						c.readErr = err
						return 0, buf, err
					}
				}
			case wsproto.OpPong:
				if c.pingPong != nil && c.pingPong.pong != nil {
					c.callPingPong(func() error { return c.pingPong.pong.OnPong(c, m.Data) })
				}
			case wsproto.OpClose:
				reason := closePayloadReason(m.Data)
				cerr := &CloseError{Code: m.CloseCode, Reason: string(reason)}
				if !c.recordClose(m.CloseCode, reason) {
					c.sendClose(context.Background(), m.CloseCode, string(reason))
				}
				c.mr.Release()
				c.releaseRead()
				if c.role == wsproto.RoleClient {
					// RFC 6455 §7.1.1: the server closes the TCP
					// connection first; the client waits for it (up to
					// the linger bound), so TIME_WAIT stays on the server.
					c.readErr = cerr
					c.ended()
					c.ec.AwaitPeerClose()
					c.putReader()
					return 0, buf, cerr
				}
				c.finishPull(cerr)
				return 0, buf, cerr
			}
			c.mr.Release()
			if c.rp == c.rn {
				c.releaseRead()
			}
			continue
		}
		if err := c.fill(ctx); err != nil {
			return 0, buf, err
		}
	}
}

// callPingPong runs a PingPongHandler callback, logging a panic or an error
// (the read goes on either way).
func (c *Conn) callPingPong(f func() error) {
	defer func() {
		if r := recover(); r != nil {
			c.cfg.logger.Error("websocket: panic in PingPongHandler", "panic", r)
		}
	}()
	if err := f(); err != nil {
		c.cfg.logger.Warn("websocket: PingPongHandler returned an error", "err", err)
	}
}

// fill reads more bytes into the pull buffer. An idle connection waits for
// readability without holding a buffer.
func (c *Conn) fill(ctx context.Context) error {
	var (
		n   int
		err error
	)
	if c.rbuf == nil {
		if c.rbuf, n, err = c.ec.ReadPooled(ctx, c.rclass); c.rbuf == nil {
			if err == nil {
				return nil
			}
			return c.readFailed(ctx, err)
		}
	} else {
		n, err = c.ec.Read(ctx, *c.rbuf)
	}
	if n > 0 {
		c.rxSeq++
		c.rp, c.rn = 0, n
		if n == len(*c.rbuf) && c.rclass < bufpool.Classes-1 {
			c.rclass++
		} else if c.rclass > 0 && n <= len(*c.rbuf)/4 {
			c.rclass--
		}
		return nil
	}
	c.releaseRead()
	if err == nil {
		return nil
	}
	return c.readFailed(ctx, err)
}

func (c *Conn) readFailed(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil && !errors.Is(err, net.ErrClosed):
		return ctx.Err()
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, ErrReadTimedOut):
		return err // nothing consumed; the connection stays usable
	case errors.Is(err, io.EOF):
		cerr := &CloseError{Code: wsproto.CloseAbnormalClosure}
		c.recordAbnormal()
		c.finishPull(cerr)
		return cerr
	}
	if !errors.Is(err, net.ErrClosed) {
		err = connErr(err)
	}
	c.ended()
	c.readErr = err
	c.ec.Close(err)
	return err
}

func (c *Conn) recordAbnormal() { c.ended() }

// releaseRead returns the pull buffer to the pool, and the message reader
// too when it holds nothing (see idleReader): an idle pulled connection
// holds neither.
func (c *Conn) releaseRead() {
	if c.rbuf != nil {
		bufpool.Put(c.rbuf)
		c.rbuf = nil
	}
	c.rp, c.rn = 0, 0
	c.idleReader()
}

// finishPull ends a pulled connection: the error becomes sticky and the
// TCP connection is closed (after a FIN, so that the peer sees an orderly
// end).
func (c *Conn) finishPull(err error) {
	c.cfg.obs.CloseKeyed(c, err)
	c.readErr = err
	c.ended()
	c.ec.CloseWrite()
	c.ec.Close(ErrClosed)
	c.putReader()
}

// pullUntilClose reads (dropping data) until the peer's close frame or the
// timeout; the caller holds rsem.
func (c *Conn) pullUntilClose(ctx context.Context, timeout <-chan time.Time) error {
	callerDL, callerHasDL := ctx.Deadline()
	var closeDL time.Time
	if c.cfg.closeTimeout > 0 {
		closeDL = time.Now().Add(c.cfg.closeTimeout)
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, closeDL)
		defer cancel()
	}
	for {
		_, _, err := c.readHeld(ctx, nil, true)
		if err == nil {
			continue
		}
		var ce *CloseError
		switch {
		case errors.As(err, &ce):
			return nil
		case ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
			// The read may see ctx's deadline pass just before ctx's timer.
			c.ec.Close(ErrClosed)
			cerr := ctx.Err()
			if errors.Is(cerr, context.Canceled) || callerHasDL && (closeDL.IsZero() || callerDL.Before(closeDL)) {
				if cerr == nil {
					cerr = context.DeadlineExceeded
				}
				return closeInterrupted(cerr) // the caller's ctx, not ConnectionClosureTimeout
			}
			return c.closeTimeoutErr()
		}
		return nil // the connection ended: echoResult tells
	}
}

// bufferFor returns a pooled buffer holding a copy of p.
func bufferFor(p []byte) *[]byte {
	b := bufpool.Get(bufpool.Class(len(p)))
	if len(*b) < len(p) {
		bufpool.Put(b)
		nb := make([]byte, len(p))
		b = &nb
	}
	copy(*b, p)
	return b
}
