package websocket

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime/debug"

	"github.com/netkit-go/netkit/internal/engine"
	"github.com/netkit-go/netkit/internal/wsproto"
)

// session is the engine face of a connection served by a Service: the one
// dispatch loop, shared by server connections (and, later, AsyncClient).
// Its methods run on the connection's goroutine.
type session struct {
	conn    *Conn
	h       *hooks   // shared by the sessions of one Service (Handler.sharedHooks)
	handler *Handler // tracks the session for stops; nil for clients
	failed  *failure // how we failed the connection, or nil

	closeAt int64 // monotonic deadline for the close echo, or 0
	lastRx  int64 // monotonic time of the last frame read (keepalive)
	pongAt  int64

	closing   bool // a close was received or the connection failed: stop dispatching
	reported  bool // OnClose ran
	awaitPong bool
}

// failure is how we failed a connection: the close frame we sent and the
// error OnError gets after closure. It is made only on failure, to keep the
// sessions of healthy connections small.
type failure struct {
	code   int
	reason string
	err    error

	// principal is the Principal of an authenticated upgrade, carried to
	// Open (which stores it on the Conn): it rides here to keep the
	// sessions of connections without auth small.
	principal *Principal
}

// newSession makes c served by h.
func newSession(c *Conn, h *hooks, handler *Handler) *session {
	s := &session{conn: c, h: h, handler: handler}
	c.sess = s
	return s
}

// errCloseTimeout ends a connection whose peer did not echo our close.
var errCloseTimeout = &timeoutError{"websocket: no close echo within ConnectionClosureTimeout"}

func (s *session) Open(ec *engine.Conn) error {
	if s.conn.ec == nil { // a server connection learns its engine.Conn here
		s.conn.ec = ec
	}
	s.lastRx = mono()
	if s.failed != nil && s.failed.principal != nil {
		ec.SetAttr(principalAttr, s.failed.principal)
		s.failed = nil
	}
	if s.handler != nil && s.handler.stopped.Load() {
		return ErrHandlerStopped
	}
	s.obsOpen(ec)
	if s.h.open != nil {
		if err := s.result(s.invoke(kindOpen, nil)); err != nil {
			s.fail0(err)
		}
	}
	return nil
}

// fail0 records a failure from Open, whose result cannot close gracefully:
// it shuts the connection down after the frame was sent.
func (s *session) fail0(err error) {
	if err == engine.ErrCloseGracefully {
		s.conn.ec.Shutdown(ErrClosed)
		return
	}
	s.conn.ec.Close(err)
}

func (s *session) Data(ec *engine.Conn, p []byte) (int, error) {
	c := s.conn
	total := len(p)
	if c.cfg.pingInterval > 0 {
		// Bytes arriving prove the peer alive: a pong cannot overtake a
		// large frame in progress.
		s.lastRx = mono()
		if s.awaitPong {
			s.pongAt = max(s.pongAt, s.lastRx+int64(c.cfg.pongTimeout))
		}
	}
	mr := c.reader()
	for len(p) > 0 {
		n, m, err := mr.Parse(p)
		p = p[n:]
		if err != nil {
			c.parseFailed = true
			return total, s.failProtocol(err)
		}
		if m.Op == 0 {
			continue
		}
		err = s.dispatch(m)
		mr.Release()
		if err != nil {
			return total, err
		}
	}
	c.idleReader()
	return total, nil
}

// dispatch handles one message or control frame.
func (s *session) dispatch(m wsproto.Message) error {
	c := s.conn
	if c.cfg.pingInterval > 0 {
		s.lastRx = mono()
	}
	switch m.Op {
	case wsproto.OpText, wsproto.OpBinary:
		c.cfg.obs.Received(msgType(m.Op), len(m.Data))
		if s.closing || c.sent.Load() {
			return nil // after our close frame, data is dropped
		}
		if c.cfg.idle > 0 {
			c.lastData.Store(mono())
		}
		kind := kindText
		if m.Op == wsproto.OpBinary {
			kind = kindBinary
		}
		if s.h.typed != nil {
			return s.dispatchTyped(kind, m.Data)
		}
		if (kind == kindText && s.h.text == nil) || (kind == kindBinary && s.h.binary == nil) {
			return nil
		}
		return s.result(s.invoke(kind, m.Data))
	case wsproto.OpPing:
		if c.cfg.idle > 0 {
			c.lastData.Store(mono())
		}
		if s.h.ping != nil {
			return s.result(s.invoke(kindPing, m.Data))
		}
		if s.h.typed != nil && s.h.typed.ping != nil {
			return s.callTyped(s.h.typed.ping, m.Data)
		}
		if c.sent.Load() {
			return nil
		}
		if err := c.writeControl(context.Background(), wsproto.OpPong, m.Data); err != nil {
			return s.ioFail(err)
		}
	case wsproto.OpPong:
		s.awaitPong = false
		if s.h.pong != nil {
			return s.result(s.invoke(kindPong, m.Data))
		}
	case wsproto.OpClose:
		reason := closePayloadReason(m.Data)
		if c.recordClose(m.CloseCode, reason) {
			return engine.ErrCloseGracefully // the echo of our close
		}
		s.closing = true
		if s.h.close != nil {
			s.reported = true
			s.invoke(kindClose, reason) // a panic is logged; the echo follows anyway
		}
		if _, err := c.sendClose(context.Background(), m.CloseCode, string(reason)); err != nil {
			return s.ioFail(err)
		}
		if c.role == wsproto.RoleClient {
			return engine.ErrAwaitPeerClose // RFC 6455 §7.1.1: the server closes first
		}
		return engine.ErrCloseGracefully
	}
	return nil
}

// Callback kinds for invoke.
const (
	kindOpen = iota
	kindText
	kindBinary
	kindPing
	kindPong
	kindIdle
	kindClose
)

// callbackStart and callbackEnd bracket every callback (invoke and
// invokeTyped): callbackEnd, deferred, recovers a panic into *perr and logs
// it, and suspends the pong deadline for the time the callback ran.
func (s *session) callbackStart() int64 {
	if s.awaitPong {
		return mono()
	}
	return 0
}

func (s *session) callbackEnd(start int64, perr **engine.PanicError) {
	if r := recover(); r != nil {
		*perr = &engine.PanicError{Value: r, Stack: debug.Stack()}
		s.conn.cfg.logger.Error("websocket: panic in callback", slog.String("conn.id", s.conn.ID()),
			slog.Any("panic", r), slog.String("stack", string((*perr).Stack)))
	}
	if start != 0 && s.awaitPong {
		// The pong deadline is suspended while a callback runs.
		s.pongAt += mono() - start
	}
}

// invoke runs one callback, recovering a panic.
func (s *session) invoke(kind int, p []byte) (err error, perr *engine.PanicError) {
	c := s.conn
	defer s.callbackEnd(s.callbackStart(), &perr)
	switch kind {
	case kindOpen:
		return s.h.open.OnOpen(c), nil
	case kindText:
		return s.h.text.OnTextMessage(c, p), nil
	case kindBinary:
		return s.h.binary.OnBinaryMessage(c, p), nil
	case kindPing:
		return s.h.ping.OnPing(c, p), nil
	case kindPong:
		return s.h.pong.OnPong(c, p), nil
	case kindIdle:
		return s.h.idle.OnIdleTimeout(c), nil
	case kindClose:
		s.h.close.OnClose(c, c.recvCodeLocked(), string(p))
	}
	return nil, nil
}

func (c *Conn) recvCodeLocked() int {
	code, _, _ := c.received()
	return code
}

// result applies a callback's outcome: a panic closes with 1011, a
// *CloseError starts the close handshake, another error goes to OnError.
func (s *session) result(err error, perr *engine.PanicError) error {
	c := s.conn
	if perr != nil {
		return s.failWith(wsproto.CloseInternalServerError, "Unexpected condition", perr)
	}
	if err == nil {
		return nil
	}
	var cf *CloseError
	if errors.As(err, &cf) {
		if cf == nil { // a typed nil *CloseError: nothing to close with
			return nil
		}
		if !validLocalCloseCode(cf.Code) {
			c.cfg.logger.Error("websocket: returned close frame has an invalid status code; closing the connection",
				slog.String("conn.id", c.ID()), slog.Int("code", cf.Code))
			return invalidCloseCodeErr(cf.Code)
		}
		if _, werr := c.sendClose(context.Background(), cf.Code, cf.Reason); werr != nil {
			return s.ioFail(werr)
		}
		s.armCloseTimer()
		return nil
	}
	c.cfg.logger.Warn("websocket: callback returned an error", slog.String("conn.id", c.ID()), slog.Any("err", err))
	s.reportError(err)
	return nil
}

// armCloseTimer bounds the wait for the echo of our close (loop only).
func (s *session) armCloseTimer() {
	if s.closeAt == 0 && s.conn.cfg.closeTimeout > 0 {
		s.closeAt = mono() + int64(s.conn.cfg.closeTimeout)
	}
}

// reportError calls OnError, recovering a panic.
func (s *session) reportError(err error) {
	if s.h.err == nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			s.conn.cfg.logger.Error("websocket: panic in OnError", slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
		}
	}()
	s.h.err.OnError(s.conn, err)
}

// failProtocol fails the connection after a peer's protocol violation: the
// close frame with the error's code, then the graceful close; OnError
// follows after closure.
func (s *session) failProtocol(err error) error {
	code, reason, out := protocolErr(err)
	return s.failWith(code, reason, out)
}

func (s *session) failWith(code int, reason string, err error) error {
	s.conn.cfg.obs.Error(failKind(code, err))
	s.closing = true
	if s.failed == nil || s.failed.err == nil {
		s.failed = &failure{code: code, reason: reason, err: err}
	}
	if _, werr := s.conn.sendClose(context.Background(), code, reason); werr != nil {
		return werr
	}
	return engine.ErrCloseGracefully
}

// ioFail ends the connection after a write failure.
func (s *session) ioFail(err error) error {
	s.closing = true
	return err
}

// Stopping implements engine.GracefulFace: the server stops gracefully.
// The engine calls it on the connection's goroutine after the running
// callback returned and the messages that already arrived were dispatched
// (their replies written), so close 1001 follows every reply. The loop then
// reads on until the peer's echo (or ConnectionClosureTimeout, or the
// stop's ctx).
func (s *session) Stopping(ec *engine.Conn) error {
	if !s.closing && !s.conn.sent.Load() {
		if _, err := s.conn.sendClose(context.Background(), wsproto.CloseGoingAway, ""); err != nil {
			return s.ioFail(err)
		}
	}
	s.armCloseTimer()
	return nil
}

// NextTimer implements engine.TimerFace.
func (s *session) NextTimer() (t timeT) {
	c := s.conn
	var at int64
	min := func(v int64) {
		if at == 0 || v < at {
			at = v
		}
	}
	if s.closeAt != 0 {
		min(s.closeAt)
	}
	if !s.closing && !c.sent.Load() {
		if c.cfg.idle > 0 && s.h.idle != nil {
			min(c.lastData.Load() + int64(c.cfg.idle))
		}
		if c.cfg.pingInterval > 0 {
			if s.awaitPong {
				min(s.pongAt)
			} else {
				min(s.lastRx + int64(c.cfg.pingInterval))
			}
		}
	}
	if at == 0 {
		return timeT{}
	}
	return monoTime(at)
}

// Timer implements engine.TimerFace.
func (s *session) Timer(ec *engine.Conn) error {
	c := s.conn
	now := mono()
	if s.closeAt != 0 && now >= s.closeAt {
		return errCloseTimeout
	}
	if s.closing || c.sent.Load() {
		return nil
	}
	if c.cfg.pingInterval > 0 {
		if s.awaitPong && now >= s.pongAt {
			return ErrPongTimeout
		}
		if !s.awaitPong && now >= s.lastRx+int64(c.cfg.pingInterval) {
			if err := c.writeControl(context.Background(), wsproto.OpPing, nil); err != nil {
				return s.ioFail(err)
			}
			s.awaitPong = true
			s.pongAt = mono() + int64(c.cfg.pongTimeout)
		}
	}
	if c.cfg.idle > 0 && s.h.idle != nil && now >= c.lastData.Load()+int64(c.cfg.idle) {
		c.lastData.Store(now)
		return s.result(s.invoke(kindIdle, nil))
	}
	return nil
}

func (s *session) Closed(ec *engine.Conn, err error) {
	c := s.conn
	s.obsClose(ec, err)
	c.ended()
	switch {
	case s.failed != nil && s.failed.err != nil:
		s.reportError(s.failed.err)
	case err == nil || err == errCloseTimeout || errors.Is(err, io.EOF):
	case errors.Is(err, ErrPongTimeout):
		s.reportError(err)
	case errors.Is(err, net.ErrClosed):
		// closed locally (stop, Close after a timeout): nothing to report
	default:
		if errors.Is(err, ErrConnectionClosure) {
			s.reportError(err)
		} else {
			s.reportError(connErr(err))
		}
	}
	if !s.reported && s.h.close != nil {
		s.reported = true
		code, reason, ok := c.received()
		if !ok {
			code, reason = wsproto.CloseAbnormalClosure, ""
			if s.failed != nil && s.failed.err != nil {
				code, reason = s.failed.code, s.failed.reason
			}
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					c.cfg.logger.Error("websocket: panic in OnClose", slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
				}
			}()
			s.h.close.OnClose(c, code, reason)
		}()
	}
	s.release(ec)
}

// release frees what an ended connection holds (its reader and
// compressor).
func (s *session) release(ec *engine.Conn) {
	c := s.conn
	c.putReader()
	if c.comp != nil && ec.TryLockWrite() {
		c.comp.Close()
		ec.UnlockWrite()
	}
}
