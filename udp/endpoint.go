package udp

import (
	"context"
	"errors"
	"github.com/netkit-go/netkit/internal/obs"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

// aLongTimeAgo is a deadline in the past, used to interrupt blocked calls.
var aLongTimeAgo = time.Unix(1, 0)

// endpoint is the socket shared by Client and ConnectClient: reads and
// writes, each under its own lock so that per-call deadlines stay coherent.
type endpoint struct {
	conn      *net.UDPConn
	opts      sockOpts
	connected bool

	rmu sync.Mutex
	rdl armed // under rmu
	wmu sync.Mutex
	wdl armed // under wmu

	closeOnce sync.Once
	closeErr  error
}

// deadlineAt returns the deadline for a call starting at now: the earlier
// of now+timeout and ctx's deadline; zero when there is neither.
func deadlineAt(ctx context.Context, now time.Time, timeout time.Duration) time.Time {
	var dl time.Time
	if timeout > 0 {
		dl = now.Add(timeout)
	}
	if cd, ok := ctx.Deadline(); ok && (dl.IsZero() || cd.Before(dl)) {
		dl = cd
	}
	return dl
}

// watch makes ctx's cancellation interrupt a blocked call by moving the
// deadline into the past. It returns a function to call after the I/O, or
// nil (no cost) when ctx cannot be cancelled.
func watch(ctx context.Context, set func(time.Time) error) func() {
	if ctx.Done() == nil {
		return nil
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(fired)
		_ = set(aLongTimeAgo)
	})
	return func() {
		if !stop() {
			<-fired // wait, so that it cannot hit the next call
		}
	}
}

// armed tracks the deadline set on the socket for one direction, so that a
// busy client does not reset it on every call (each reset costs a timer
// update). A deadline is left alone when it lies between the middle of the
// call's allowed time and the call's own deadline; a call woken early by it
// re-arms the exact deadline and carries on.
type armed struct {
	at    time.Time // zero: no deadline
	valid bool      // at is what the socket has
}

func (a *armed) arm(set func(time.Time) error, now, want time.Time) error {
	if a.valid {
		if want.IsZero() {
			if a.at.IsZero() {
				return nil
			}
		} else if !a.at.IsZero() && !a.at.After(want) && !a.at.Before(now.Add(want.Sub(now)/2)) {
			return nil
		}
	}
	a.valid = false
	if err := set(want); err != nil {
		return err
	}
	a.at, a.valid = want, true
	return nil
}

// early reports whether a timeout came from a lazily armed deadline before
// the call's own one; it then arms the exact deadline.
func (a *armed) early(ctx context.Context, set func(time.Time) error, err error, want time.Time) bool {
	if want.IsZero() || ctx.Err() != nil || !errors.Is(err, os.ErrDeadlineExceeded) || !time.Now().Before(want) {
		return false
	}
	a.valid = false
	if set(want) != nil {
		return false
	}
	a.at, a.valid = want, true
	return true
}

// receive reads one datagram into buf. A datagram longer than buf is
// consumed and reported as ErrTruncated.
func (e *endpoint) receive(ctx context.Context, buf []byte) (int, netip.AddrPort, error) {
	if err := ctx.Err(); err != nil {
		return 0, netip.AddrPort{}, err
	}
	e.rmu.Lock()
	defer e.rmu.Unlock()
	now := time.Now()
	want := deadlineAt(ctx, now, e.opts.timeout)
	if err := e.rdl.arm(e.conn.SetReadDeadline, now, want); err != nil {
		return 0, netip.AddrPort{}, readError(ctx, err)
	}
	var done func()
	if ctx.Done() != nil {
		done = watch(ctx, e.conn.SetReadDeadline)
		e.rdl.valid = false // the watcher may move it
	}
	for {
		n, _, flags, from, err := e.conn.ReadMsgUDPAddrPort(buf, nil)
		if err != nil && e.rdl.early(ctx, e.conn.SetReadDeadline, err, want) {
			continue
		}
		if done != nil {
			done()
			e.rdl.valid = false
		}
		if err != nil && !isTruncErr(err) {
			return 0, netip.AddrPort{}, readError(ctx, err)
		}
		from = unmap(from)
		if isTrunc(flags) || err != nil {
			e.opts.obs.Truncated()
			return 0, from, &Error{Op: "receive", Msg: msgTruncated, Err: ErrTruncated}
		}
		e.opts.obs.Received(obs.MsgNone, n)
		return n, from, nil
	}
}

// send writes data, split into datagrams of at most opts.maxSize bytes, to
// `to` (or to the connected peer when `to` is the zero value).
func (e *endpoint) send(ctx context.Context, data []byte, to netip.AddrPort) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := e.opts.checkSize(len(data)); err != nil {
		return &Error{Op: "send", Msg: msgSend, Err: err}
	}
	e.wmu.Lock()
	defer e.wmu.Unlock()
	now := time.Now()
	want := deadlineAt(ctx, now, e.opts.timeout)
	if err := e.wdl.arm(e.conn.SetWriteDeadline, now, want); err != nil {
		return sendError(ctx, err)
	}
	for off := 0; ; {
		end := off + e.opts.chunk(len(data)-off)
		var err error
		if to.IsValid() {
			_, err = e.conn.WriteToUDPAddrPort(data[off:end], to)
		} else {
			_, err = e.conn.Write(data[off:end])
		}
		if err != nil {
			if e.wdl.early(ctx, e.conn.SetWriteDeadline, err, want) {
				continue
			}
			e.opts.obs.SendError(err)
			return sendError(ctx, err)
		}
		e.opts.obs.Sent(obs.MsgNone, end-off)
		off = end
		if off >= len(data) {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return sendError(ctx, err)
		}
	}
}

func (e *endpoint) close() error {
	e.closeOnce.Do(func() {
		if err := e.conn.Close(); err != nil {
			e.closeErr = &Error{Op: "close", Msg: msgClose, Err: err}
		}
	})
	return e.closeErr
}
