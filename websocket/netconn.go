package websocket

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/netkit-go/netkit/internal/wsproto"
)

// NetConn returns a net.Conn over a pulled connection (a [Client]'s Conn,
// or one from [Accept]): a byte stream made of messages. Each Write sends
// its bytes as one message of type typ; Read returns the payloads of
// incoming messages (of either type) as one stream, ignoring message
// boundaries. A normal close by the peer (1000, 1001 or an empty close
// frame) reads as io.EOF; another close code is a *CloseError.
//
// ctx bounds every Read and Write, besides the deadlines, which behave as
// net.Conn's: a passed deadline fails the call with an error matching
// os.ErrDeadlineExceeded (Timeout() true), and the connection stays usable
// once the deadline is moved. A deadline changed while a call waits applies
// to that call only if neither ctx nor the call had a deadline before
// (otherwise from the next call on). Close runs the close handshake with 1000,
// bounded by ctx and the connection's ConnectionClosureTimeout. With
// ClientConfig.Retry, pass the Client's Conn() of the moment: the adapter
// does not follow reconnections.
//
// Read and Write may be called concurrently with each other, as net.Conn
// requires; one Read at a time and one Write at a time.
func NetConn(ctx context.Context, c *Conn, typ MessageType) net.Conn {
	return &netConn{c: c, typ: typ, ctx: ctx}
}

type netConn struct {
	c   *Conn
	typ MessageType
	ctx context.Context

	rmu  sync.Mutex // one Read at a time
	rbuf []byte
	roff int
	rerr error

	wmu sync.Mutex // one Write at a time

	rd, wd deadline

	closeOnce sync.Once
	closeErr  error
}

// errNetDeadline is the cause of a read or write cut by its deadline.
var errNetDeadline error = &timeoutError{"websocket: i/o timeout"}

// deadline is a net.Conn deadline that can interrupt a call in progress.
type deadline struct {
	mu      sync.Mutex
	t       time.Time
	cancel  context.CancelCauseFunc // of the call in progress
	stop    context.CancelFunc      // its deadline context's
	started time.Time               // the deadline when it began
	timer   *time.Timer
}

// set changes the deadline, re-arming the call in progress.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.t = t
	if d.cancel != nil {
		d.armLocked()
	}
}

func (d *deadline) armLocked() {
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	if d.t.IsZero() {
		return
	}
	cancel := d.cancel
	if dur := time.Until(d.t); dur <= 0 {
		cancel(errNetDeadline)
	} else {
		d.timer = time.AfterFunc(dur, func() { cancel(errNetDeadline) })
	}
}

// begin starts a call bounded by parent and the deadline. The deadline
// becomes ctx's, so the engine applies it to the socket.
func (d *deadline) begin(parent context.Context) (context.Context, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.t.IsZero() && !time.Now().Before(d.t) {
		return nil, errNetDeadline
	}
	ctx, cancel := context.WithCancelCause(parent)
	d.cancel = cancel
	d.started = d.t
	if !d.t.IsZero() {
		var stop context.CancelFunc
		ctx, stop = context.WithDeadlineCause(ctx, d.t, errNetDeadline)
		d.stop = stop
	}
	return ctx, nil
}

// end finishes the call; it returns the deadline error if the deadline cut
// it.
func (d *deadline) end(parent, ctx context.Context, err error) error {
	d.mu.Lock()
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	cancel, stop, started := d.cancel, d.stop, d.started
	d.cancel, d.stop = nil, nil
	d.mu.Unlock()
	if err != nil && parent.Err() == nil {
		if context.Cause(ctx) == errNetDeadline {
			err = errNetDeadline
		} else if !started.IsZero() && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded)) {
			// The socket deadline fired just before ctx's timer.
			if pdl, ok := parent.Deadline(); !ok || pdl.After(started) {
				err = errNetDeadline
			}
		}
	}
	if stop != nil {
		stop()
	}
	cancel(nil)
	return err
}

// Read reads the payload bytes of incoming messages.
func (n *netConn) Read(p []byte) (int, error) {
	n.rmu.Lock()
	defer n.rmu.Unlock()
	for n.roff == len(n.rbuf) {
		if n.rerr != nil {
			return 0, n.rerr
		}
		ctx, err := n.rd.begin(n.ctx)
		if err != nil {
			return 0, err
		}
		_, out, err := n.c.Read(ctx, n.rbuf[:0])
		err = n.rd.end(n.ctx, ctx, err)
		if err != nil {
			if err == errNetDeadline || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return 0, err // nothing lost: the next Read goes on
			}
			var ce *CloseError
			if errors.As(err, &ce) && (ce.Code == wsproto.CloseNormalClosure || ce.Code == wsproto.CloseGoingAway ||
				ce.Code == wsproto.CloseNoStatusReceived) {
				err = io.EOF
			}
			n.rerr = err
			return 0, err
		}
		n.rbuf, n.roff = out, 0
	}
	k := copy(p, n.rbuf[n.roff:])
	n.roff += k
	return k, nil
}

// Write sends p as one message.
func (n *netConn) Write(p []byte) (int, error) {
	n.wmu.Lock()
	defer n.wmu.Unlock()
	ctx, err := n.wd.begin(n.ctx)
	if err != nil {
		return 0, err
	}
	err = n.wd.end(n.ctx, ctx, n.c.Write(ctx, n.typ, p))
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close runs the close handshake with 1000.
func (n *netConn) Close() error {
	n.closeOnce.Do(func() {
		err := n.c.Close(n.ctx, wsproto.CloseNormalClosure, "")
		if err != nil && errors.Is(err, ErrConnectionClosure) && !n.c.ec.IsOpen() {
			err = nil // the connection was already closing or closed
		}
		n.closeErr = err
	})
	return n.closeErr
}

// LocalAddr returns the local address.
func (n *netConn) LocalAddr() net.Addr { return n.c.LocalAddr() }

// RemoteAddr returns the peer's address.
func (n *netConn) RemoteAddr() net.Addr { return n.c.RemoteAddr() }

// SetDeadline sets the read and write deadlines.
func (n *netConn) SetDeadline(t time.Time) error {
	n.rd.set(t)
	n.wd.set(t)
	return nil
}

// SetReadDeadline sets the read deadline.
func (n *netConn) SetReadDeadline(t time.Time) error { n.rd.set(t); return nil }

// SetWriteDeadline sets the write deadline.
func (n *netConn) SetWriteDeadline(t time.Time) error { n.wd.set(t); return nil }
