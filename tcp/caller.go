package tcp

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/netkit-go/netkit/internal/engine"
	"github.com/netkit-go/netkit/internal/obs"
)

// Caller is one connection as seen from its callbacks (and the handle a
// service keeps to write later). All methods are safe for concurrent use.
type Caller struct {
	conn   *engine.Conn
	obs    *obs.Set // nil: metrics off
	closed atomic.Bool
}

// WriteBytes writes all of data and returns when the kernel has accepted
// it. ctx and the WriteTimeout bound the wait (see the package doc).
func (c *Caller) WriteBytes(ctx context.Context, data []byte) error {
	if c.closed.Load() {
		return ErrClosed
	}
	_, err := c.conn.Write(ctx, data)
	if err == nil {
		c.obs.Sent(obs.MsgNone, len(data))
	}
	return err
}

// CloseWrite shuts down the write side: the peer reads EOF, and this side
// can still read.
func (c *Caller) CloseWrite() error { return c.conn.CloseWrite() }

// Close closes the connection gracefully: the write side is shut down (after
// any write in progress; called from a callback, OnConnect included, when
// that callback returns, after OnBytes's returned reply), then input is
// discarded until the peer's EOF or the linger timeout, OnClose runs and the
// socket is closed. It does not wait for that; later writes fail with
// ErrClosed. Close is idempotent.
func (c *Caller) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	// The engine starts the graceful close when the running callback (if
	// any) returns.
	c.conn.Shutdown(ErrClosed)
	return nil
}

// IsOpen reports whether Close has not been called and the connection has
// not ended.
func (c *Caller) IsOpen() bool { return !c.closed.Load() && c.conn.IsOpen() }

// ID returns the connection's process-unique id.
func (c *Caller) ID() string { return strconv.FormatUint(c.conn.ID(), 10) }

// Context returns a context cancelled when the connection ends or the
// listener begins stopping; context.Cause tells which.
func (c *Caller) Context() context.Context { return c.conn.Context() }

// TLS returns the TLS connection state (peer certificates, version, cipher),
// or nil for a plain connection.
func (c *Caller) TLS() *tls.ConnectionState { return c.conn.TLS() }

// RemoteAddr returns the peer's address.
func (c *Caller) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }

// LocalAddr returns the local address.
func (c *Caller) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// RemoteHost returns the peer's IP address as text (IPv4-mapped addresses
// unmapped).
func (c *Caller) RemoteHost() string { h, _ := engine.HostPort(c.conn.RemoteAddr()); return h }

// RemotePort returns the peer's port.
func (c *Caller) RemotePort() int { _, p := engine.HostPort(c.conn.RemoteAddr()); return p }

// LocalHost returns the local IP address as text.
func (c *Caller) LocalHost() string { h, _ := engine.HostPort(c.conn.LocalAddr()); return h }

// LocalPort returns the local port.
func (c *Caller) LocalPort() int { _, p := engine.HostPort(c.conn.LocalAddr()); return p }

// session is the engine face of one connection: the Caller plus its
// ConnectionService and resolved hooks.
type session struct {
	Caller
	svc     ConnectionService
	h       callbacks
	connect Service // nil in client callback mode
	mark    *obs.ConnMark

	idle   time.Duration // ListenerConfig.IdleTimeout, or 0
	lastRx time.Time     // when bytes last arrived (only with idle)
}

// NextTimer implements engine.TimerFace: the idle timeout.
func (s *session) NextTimer() time.Time {
	if s.idle <= 0 {
		return time.Time{}
	}
	return s.lastRx.Add(s.idle)
}

// Timer implements engine.TimerFace: nothing was read for IdleTimeout.
func (s *session) Timer(c *engine.Conn) error {
	if time.Since(s.lastRx) >= s.idle {
		c.Logger().Debug("tcp: idle timeout; closing", "conn.id", c.ID(), "remote", c.RemoteAddr().String())
		s.closed.Store(true)
		return engine.ErrCloseGracefully
	}
	return nil
}

func (s *session) Open(c *engine.Conn) error {
	if s.connect != nil {
		cs, err := s.connect.OnConnect(&s.Caller)
		if err != nil {
			c.Logger().Debug("tcp: OnConnect refused the connection", "remote", c.RemoteAddr().String(), "err", err)
			return err
		}
		if cs == nil {
			return errors.New("tcp: OnConnect returned no ConnectionService")
		}
		s.svc = cs
	}
	if s.idle > 0 {
		s.lastRx = time.Now()
	}
	h, err := resolveHooks(s.svc)
	if err != nil {
		c.Logger().Error(err.Error())
		return err
	}
	s.h = h
	s.mark = s.obs.ConnOpened()
	return nil
}

func (s *session) Data(c *engine.Conn, p []byte) (int, error) {
	if s.idle > 0 {
		s.lastRx = time.Now()
	}
	if s.closed.Load() {
		// Closed: no OnBytes after Close, even for data that a stopping
		// listener drains; the graceful close discards it.
		return len(p), engine.ErrCloseGracefully
	}
	s.obs.Received(obs.MsgNone, len(p))
	reply, err := s.svc.OnBytes(&s.Caller, p)
	if err != nil {
		s.obs.Error(obs.KindHandler)
		c.Logger().Warn("tcp: OnBytes returned an error", "conn.id", c.ID(), "remote", c.RemoteAddr().String(), "err", err)
		if s.h.onError != nil {
			s.h.onError.OnError(&s.Caller, err)
		}
	}
	if reply != nil {
		if _, werr := c.Write(context.Background(), reply); werr != nil {
			return len(p), werr
		}
		s.obs.Sent(obs.MsgNone, len(reply))
	}
	return len(p), nil
}

func (s *session) Closed(c *engine.Conn, err error) {
	s.closed.Store(true)
	s.obs.ConnClosed(s.mark, err)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && s.h.onError != nil {
		s.h.onError.OnError(&s.Caller, err)
	}
	if s.h.onClose != nil {
		s.h.onClose.OnClose(&s.Caller)
	}
}
