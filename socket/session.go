package socket

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime/debug"

	"github.com/netkit-go/netkit/internal/engine"
	"github.com/netkit-go/netkit/internal/obs"
)

// session is what both faces share: the Caller and the service's hooks.
type session struct {
	c *Caller
	h callbacks
}

// protect runs f (a resource function). A panic is recovered, logged with
// its stack and passed to OnError as a *GenericError with message msg and a
// *PanicError cause, while the connection is still open; protect then
// reports false and the caller closes the connection gracefully.
func (s *session) protect(msg string, f func()) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			perr := &PanicError{Value: r, Stack: debug.Stack()}
			s.c.conn.Logger().Error("socket: panic in handler", slog.Uint64("conn.id", s.c.conn.ID()),
				slog.Any("panic", r), slog.String("stack", string(perr.Stack)))
			s.tellError(&GenericError{Message: msg, Cause: perr})
			ok = false
		}
	}()
	f()
	return true
}

// tellError calls OnError, if the service has it. A panic in OnError is only
// logged (as Ballerina dispatched onError once per failure).
func (s *session) tellError(err error) {
	if s.h.onError == nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			s.c.conn.Logger().Error("socket: panic in OnError", slog.Uint64("conn.id", s.c.conn.ID()),
				slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
		}
	}()
	s.h.onError.OnError(s.c, err)
}

// connect runs OnAccept/OnConnect; false means it panicked.
func (s *session) connect() bool {
	if s.h.connect == nil {
		return true
	}
	return s.protect(msgOnConnect, func() { s.h.connect(s.c) })
}

// pushSession is the engine stream face of a 0.990 service: each chunk read
// is pushed to OnReadReady(c, content).
type pushSession struct{ session }

func (s *pushSession) Open(c *engine.Conn) error {
	s.c.mark = s.c.obs.ConnOpened()
	if !s.connect() {
		s.c.closed.Store(true)
		c.Shutdown(ErrClosed) // the loop closes gracefully; OnClose follows
	}
	return nil
}

func (s *pushSession) Data(c *engine.Conn, p []byte) (int, error) {
	s.c.obs.Received(obs.MsgNone, len(p))
	if !s.protect(msgOnRead, func() { s.h.content.OnReadReady(s.c, p) }) {
		s.c.closed.Store(true)
		return len(p), engine.ErrCloseGracefully
	}
	return len(p), nil
}

func (s *pushSession) Closed(c *engine.Conn, err error) {
	s.c.closed.Store(true)
	s.c.obs.ConnClosed(s.c.mark, err)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		var perr *engine.PanicError
		if errors.As(err, &perr) {
			s.tellError(&GenericError{Message: msgOnRead, Cause: err})
		} else {
			s.tellError(&GenericError{Message: msgReadFailed + ": " + causeText(err), Cause: err})
		}
	}
	if s.h.onClose != nil {
		s.h.onClose.OnClose(s.c)
	}
}

// pullSession is the engine conn face of a 1.x service: it waits until the
// connection is readable and calls OnReadReady(c), which pulls with c.Read;
// while data remains it calls it again. Calls never overlap.
type pullSession struct{ session }

func (s *pullSession) Serve(c *engine.Conn) {
	s.c.mark = s.c.obs.ConnOpened()
	defer s.c.closedObs()
	if !s.connect() {
		return // the engine closes gracefully when Serve returns
	}
	var (
		ctx  = context.Background() // Shutdown and Close wake the wait
		wait = true
		idle = 0 // OnReadReady calls in a row that read nothing
	)
	for c.IsOpen() && !s.c.closed.Load() {
		if wait {
			if err := c.WaitReadable(ctx); err != nil {
				return
			}
		}
		select { // drop a token left by reads of an earlier call
		case <-s.c.progress:
		default:
		}
		before := s.c.reads.Load()
		if !s.protect(msgOnRead, func() { s.h.ready.OnReadReady(s.c) }) {
			return
		}
		if s.c.ended.Load() {
			return // end of stream: Ballerina unregistered the channel
		}
		if s.c.reads.Load() != before {
			// It read: call it again at once for data it left buffered,
			// otherwise when more arrives.
			idle = 0
			wait = s.c.pendingN.Load() == 0
			continue
		}
		idle++
		if idle == 1 && s.c.pendingN.Load() > 0 {
			// It timed out on buffered bytes: call it again when more arrive.
			wait = true
			continue
		}
		// It returned without reading although data is there: rather than
		// spin, wait until some goroutine reads (a handler may hand the
		// Caller to another goroutine) or the connection closes.
		select {
		case <-s.c.progress:
			idle, wait = 0, s.c.pendingN.Load() == 0
		case <-c.Context().Done():
			return
		}
	}
}
