package websocket

import (
	"context"
	"errors"
	"math"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/netkit-go/netkit/internal/wsproto"
)

// Defaults of RetryConfig, as Ballerina's WebSocketRetryConfig.
const (
	DefaultRetryInterval        = time.Second
	DefaultRetryMaxWaitInterval = 30 * time.Second
)

// RetryConfig makes a [Client] (and an [AsyncClient], see there) reconnect
// when a read or write fails with an abnormal closure (1006: the TCP
// connection dropped without a close frame) or an I/O error (Ballerina's
// retryConfig). The client redials the same
// URL with the same configuration (TLS sessions are resumed), runs the
// handshake again, calls OnReconnect, and carries on: a pending read waits
// on the new connection, a failed write is sent again on it. Delivery is
// therefore at least once: a message whose write failed may have reached
// the old server anyway, so the server can see it twice.
//
// A close frame from the server (any code but 1006), a protocol error, a
// timeout, ctx ending and a local Close never cause a reconnect.
type RetryConfig struct {
	// MaxCount is the number of reconnection attempts per failure; when
	// they all fail, the read or write returns an [ErrConnection] error
	// wrapping the last dial error. 0: unlimited, bounded only by the call's ctx
	// (Ballerina's maxCount 0).
	MaxCount int
	// Interval is the wait before the first attempt. 0: 1 s; negative: 1 s
	// (as Ballerina).
	Interval time.Duration
	// BackOffFactor multiplies the wait after each failed attempt. 0 or
	// less than 1: 1 (a constant interval). Unlike Ballerina's
	// implementation, the factor applies.
	BackOffFactor float64
	// MaxWaitInterval caps the wait. 0: 30 s; negative: 30 s.
	MaxWaitInterval time.Duration
	// OnReconnect, if set, runs after each successful reconnection, on the
	// goroutine whose read or write reconnected, before that call goes on.
	OnReconnect func(c *Client)
}

func (r *RetryConfig) check() error {
	if r.MaxCount < 0 {
		return errors.New("websocket: RetryConfig.MaxCount must not be negative")
	}
	return nil
}

// delay returns the wait before attempt n (0-based).
func (r *RetryConfig) delay(n int) time.Duration {
	iv, mx, f := r.Interval, r.MaxWaitInterval, r.BackOffFactor
	if iv <= 0 {
		iv = DefaultRetryInterval
	}
	if mx <= 0 {
		mx = DefaultRetryMaxWaitInterval
	}
	if f < 1 {
		f = 1
	}
	d := float64(iv) * math.Pow(f, float64(n))
	if d > float64(mx) || math.IsInf(d, 0) || math.IsNaN(d) {
		return mx
	}
	return time.Duration(d)
}

// retryable reports whether err, from a read or write, is an abnormal
// closure or an I/O failure worth a reconnect. A keepalive pong timeout
// is one (the peer or the path vanished), although it is a timeout.
func retryable(err error) bool {
	if errors.Is(err, ErrPongTimeout) {
		return true
	}
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Code == wsproto.CloseAbnormalClosure
	}
	if errors.Is(err, ErrConnectionClosure) || errors.Is(err, ErrCorruptedFrame) || errors.Is(err, ErrPayloadTooLarge) {
		return false
	}
	var ne net.Error
	return errors.Is(err, ErrConnection) || errors.As(err, &ne) || errors.Is(err, net.ErrClosed)
}

// reconnect replaces the failed connection old. Concurrent callers that
// saw the same failure share one reconnection.
func (cl *Client) reconnect(ctx context.Context, old *Conn, cause error) error {
	hook, err := cl.redial(ctx, old, cause)
	if hook && cl.d.cfg.Retry.OnReconnect != nil {
		cl.d.cfg.Retry.OnReconnect(cl)
	}
	return err
}

func (cl *Client) redial(ctx context.Context, old *Conn, cause error) (hooked bool, err error) {
	cl.reMu.Lock()
	defer cl.reMu.Unlock()
	if cl.closed.Load() {
		return false, cause
	}
	if cur := cl.current(); cur != old {
		return false, nil // someone else reconnected already
	}
	old.ec.Close(ErrClosed)
	old.cfg.obs.CloseKeyed(old, cause)
	rc := cl.d.cfg.Retry
	var last error
	for n := 0; rc.MaxCount == 0 || n < rc.MaxCount; n++ {
		t := time.NewTimer(rc.delay(n))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		}
		if cl.closed.Load() {
			return false, cause
		}
		hs, err := cl.d.dial(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			last = err
			continue
		}
		c := cl.d.newPullConn(hs)
		if cl.closed.Load() {
			c.ec.Close(ErrClosed)
			c.cfg.obs.CloseKeyed(c, nil)
			return false, cause
		}
		cl.mu.Lock()
		cl.conn, cl.resp = c, hs.resp
		cl.mu.Unlock()
		cl.reconnects.Add(1)
		return true, nil
	}
	if last == nil {
		last = cause
	}
	return false, retryFailedErr(rc.MaxCount, last)
}

// retryFailedErr is the ErrConnection error after attempts failed
// reconnections (Client and AsyncClient); last is the last cause.
func retryFailedErr(attempts int, last error) error {
	return &kindError{kind: ErrConnection, err: last, closed: true,
		msg: "websocket: connection error: reconnection failed after " + strconv.Itoa(attempts) + " attempts: " + last.Error()}
}
