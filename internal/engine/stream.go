package engine

import "net"

// This file is the connection kind of a stream carried by another
// connection: an HTTP/2 stream that carries a WebSocket (RFC 8441). Such a
// connection has no descriptor of its own, and its goroutine is the one the
// carrying protocol runs it on (golang.org/x/net/http2's handler goroutine).

// ServeStream runs face over nc, a stream of another connection (not a
// socket: no TLS handshake, no descriptor, never on the event loop), on
// the calling goroutine, and returns when the connection has ended: after
// the face's Closed and Config.ConnState's StateClosed, once the server has
// forgotten it. It counts against MaxConnections like an accepted
// connection, is stopped like one, and its reads and writes go through
// nc's Read, Write and deadlines (which must be safe to set from another
// goroutine and must not break nc: a past read deadline only wakes a
// blocked Read). cfg (nil: the server's) is the connection's settings.
//
// The connection is counted first, under the same lock as the check of
// the cap, so concurrent streams never exceed MaxConnections; then
// accepted (if not nil) runs, before ConnState and Open: the carrier's
// answer (HTTP/2's 200). An error from accepted ends the connection
// without Closed and is returned. At the cap ServeStream returns
// [ErrTooManyConnections], on a stopping server [ErrListenerStopping],
// without running anything: the caller still owns nc and refuses.
func (s *Server) ServeStream(nc net.Conn, face StreamFace, cfg *ConnConfig, accepted func() error) error {
	if cfg == nil {
		cfg = &s.cfg.Conn
	}
	c := NewConn(nc, *cfg)
	c.server = s
	c.face = face
	c.done = make(chan struct{})
	s.mu.Lock()
	switch {
	case s.stopping:
		s.mu.Unlock()
		return ErrListenerStopping
	case s.cfg.MaxConnections > 0 && len(s.conns) >= s.cfg.MaxConnections:
		s.mu.Unlock()
		return ErrTooManyConnections
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	if accepted != nil {
		if err := accepted(); err != nil {
			c.Close(err)
			close(c.done)
			s.forget(c)
			return err
		}
	}
	if s.begin(c) {
		c.run()
	}
	return nil
}

// PooledReader is a net.Conn that reads into buffers of internal/bufpool
// and hands them over: a stream whose carrier cannot wait for data without
// a buffer (golang.org/x/net/http2's request body) waits with one of the
// pool's, and the stream loop takes that buffer instead of holding one of
// its own while the connection is idle. ReadPooled blocks like Read (and
// wakes at the read deadline); it returns a buffer holding n > 0 bytes,
// which the engine returns to the pool, or a nil buffer and the error.
// Read still serves the reads that continue a partial message.
type PooledReader interface {
	ReadPooled() (buf *[]byte, n int, err error)
}

// NetConn returns the connection's net.Conn (a *tls.Conn after a TLS
// handshake), for a [ConnFace] that hands the connection to another
// protocol's server (HTTP/2's). The face keeps the engine's rules: it
// closes the connection with [Conn.Close], and sets [Conn.SetStopHook]
// so that a graceful stop does not wake its reads.
func (c *Conn) NetConn() net.Conn { return c.nc }

// SetStopHook makes [Conn.Shutdown] (a graceful stop) call fn instead of
// waking the connection's blocked reads: for a [ConnFace] that carries
// other connections (an HTTP/2 connection, whose streams are connections of
// the same server) and says its own goodbye (GOAWAY) once they ended. fn
// runs on the stopping goroutine and must not block. Set it from Serve
// before reading; if the connection is no longer open when it is set,
// call fn yourself.
func (c *Conn) SetStopHook(fn func()) {
	c.mu.Lock()
	c.stopHook = fn
	c.mu.Unlock()
}
