package websocket

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/netkit-go/netkit/internal/wsproto"
)

// readKeepalive is readHeld for a Client with PingInterval: it waits in
// steps of at most the ping interval; a step in which nothing arrived
// sends a ping, and a ping answered by nothing within PongTimeout ends the
// connection with ErrPongTimeout. The caller holds rsem.
func (c *Conn) readKeepalive(ctx context.Context, buf []byte) (MessageType, []byte, error) {
	for {
		now := mono()
		step := c.cfg.pingInterval
		if c.pongAt != 0 {
			step = time.Duration(c.pongAt - now)
		}
		tick := time.Now().Add(step)
		if dl, ok := ctx.Deadline(); ok && !dl.After(tick) {
			return c.readHeld(ctx, buf, false) // ctx ends first
		}
		seq := c.rxSeq
		kctx, cancel := context.WithDeadline(ctx, tick)
		typ, out, err := c.readHeld(kctx, buf, false)
		cancel()
		if err == nil || ctx.Err() != nil || c.readErr != nil ||
			!(errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded)) {
			if err == nil {
				c.pongAt = 0
			}
			return typ, out, err
		}
		switch {
		case c.rxSeq != seq: // something arrived: the peer is alive
			c.pongAt = 0
		case c.pongAt != 0:
			c.readErr = ErrPongTimeout
			c.ended()
			c.ec.Close(ErrPongTimeout)
			c.putReader()
			return 0, buf, ErrPongTimeout
		default:
			if err := c.writeControl(context.Background(), wsproto.OpPing, nil); err != nil {
				return 0, buf, err
			}
			c.pongAt = mono() + int64(c.cfg.pongTimeout)
		}
	}
}
