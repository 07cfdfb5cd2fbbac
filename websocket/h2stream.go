package websocket

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/netkit-go/netkit/internal/h2ext"
)

// This file is the net.Conn of a WebSocket carried by an HTTP/2 stream
// (RFC 8441): the request body is its read side, the ResponseWriter its
// write side. The engine runs it as a connection of its own
// (engine.Server.ServeStream) on golang.org/x/net/http2's handler
// goroutine.

// streamConn adapts one HTTP/2 stream to the net.Conn the engine drives.
//
// golang.org/x/net/http2's read and write deadlines end the stream when
// they fire, while the engine uses a past read deadline to wake a blocked
// read (Shutdown, timers) and expects the connection to stay usable after
// a timed-out read. So the body is read through an h2ext.BodyReader, the
// client's too: a pump goroutine reads it (into 512 bytes of its own while
// the socket is idle, a pooled 4 KiB buffer that the engine then takes,
// ReadPooled, while data flows), and Read waits on a condition with a
// deadline of its own: a deadline never breaks the stream. A write that is still blocked on the
// stream's flow-control window when its deadline passes resets the stream
// (x/net cannot withdraw the bytes it accepted): it fails with a timeout,
// and the connection ends.
type streamConn struct {
	ctx    context.Context // the request's: its cancelConn counts a drop
	w      http.ResponseWriter
	rc     *http.ResponseController
	tls    *tls.ConnectionState
	local  net.Addr
	remote net.Addr

	r *h2ext.BodyReader // the request body: the read side

	mu      sync.Mutex
	closed  bool
	wdl     time.Time
	writing bool
	wfired  bool
	wtimer  *time.Timer
	broken  bool // a write deadline reset the stream
}

func newStreamConn(w http.ResponseWriter, r *http.Request, local net.Addr) *streamConn {
	sc := &streamConn{ctx: r.Context(), w: w, rc: http.NewResponseController(w), tls: r.TLS, local: local,
		r: h2ext.NewBodyReader(r.Body, false)}
	if a, err := net.ResolveTCPAddr("tcp", r.RemoteAddr); err == nil {
		sc.remote = a
	} else {
		sc.remote = stringAddr(r.RemoteAddr)
	}
	if sc.local == nil {
		if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			sc.local = a
		} else {
			sc.local = stringAddr("")
		}
	}
	return sc
}

// stringAddr is a net.Addr known only by its string.
type stringAddr string

func (a stringAddr) Network() string { return "tcp" }
func (a stringAddr) String() string  { return string(a) }

// start starts the body's pump.
func (sc *streamConn) start() { sc.r.Start() }

// end runs on the handler's goroutine once the engine is done with the
// connection: it stops the pump and the timers, then ends the stream:
// normally (END_STREAM) after a close handshake or the peer's END_STREAM,
// otherwise with a reset of this stream only (RST_STREAM CANCEL, RFC 8441
// §5: golang.org/x/net/http2 sends INTERNAL_ERROR for the handler's
// http.ErrAbortHandler, which the connection's cancelConn, told by
// dropping, turns into CANCEL).
func (sc *streamConn) end() {
	sc.mu.Lock()
	sc.closed = true
	if sc.wtimer != nil {
		sc.wtimer.Stop()
	}
	sc.mu.Unlock()
	clean := sc.r.Ended()
	sc.r.Close() // closes the body, which wakes the pump's read
	if !clean {
		dropping(sc.ctx)
		panic(http.ErrAbortHandler)
	}
}

// Read implements net.Conn.
func (sc *streamConn) Read(p []byte) (int, error) { return sc.r.Read(p) }

// ReadPooled implements engine.PooledReader: the pump's buffer itself,
// so that an idle stream holds one small buffer (the pump's), not two.
func (sc *streamConn) ReadPooled() (*[]byte, int, error) { return sc.r.ReadPooled() }

// Write implements net.Conn: p is written and flushed to the stream; it
// returns once golang.org/x/net/http2 has written the DATA frames, which
// waits for the stream's flow-control window.
func (sc *streamConn) Write(p []byte) (int, error) {
	sc.mu.Lock()
	if sc.closed || sc.broken {
		sc.mu.Unlock()
		return 0, net.ErrClosed
	}
	if !sc.wdl.IsZero() {
		d := time.Until(sc.wdl)
		if d <= 0 {
			sc.mu.Unlock()
			return 0, os.ErrDeadlineExceeded
		}
		sc.armWriteLocked(d)
	}
	sc.writing = true
	sc.mu.Unlock()
	n, err := sc.w.Write(p)
	if err == nil {
		err = sc.rc.Flush()
	}
	sc.mu.Lock()
	sc.writing = false
	if sc.wtimer != nil {
		sc.wtimer.Stop()
	}
	if sc.wfired {
		sc.wfired = false
		sc.broken = true
		err = os.ErrDeadlineExceeded
	}
	sc.mu.Unlock()
	if err != nil && n == len(p) && len(p) > 0 {
		n-- // not all of p reached the peer: the engine closes the connection
	}
	return n, err
}

func (sc *streamConn) armWriteLocked(d time.Duration) {
	if sc.wtimer == nil {
		sc.wtimer = time.AfterFunc(d, sc.writeTimeout)
		return
	}
	sc.wtimer.Reset(d)
}

// writeTimeout resets the stream of a write still blocked at its deadline.
func (sc *streamConn) writeTimeout() {
	sc.mu.Lock()
	fire := sc.writing && !sc.wdl.IsZero() && !time.Now().Before(sc.wdl)
	if fire {
		sc.wfired = true
	}
	sc.mu.Unlock()
	if fire {
		sc.rc.SetWriteDeadline(time.Unix(1, 0)) // x/net resets the stream now
	}
}

// CloseWrite ends the stream normally when the connection closes (the
// engine's graceful close, after a close handshake): golang.org/x/net/http2
// can end a response only when its handler returns, so reads end at once
// too (io.EOF) and the engine closes without lingering.
func (sc *streamConn) CloseWrite() error {
	sc.r.EndRead()
	return nil
}

// Close implements net.Conn. The stream itself ends when the handler
// returns (end).
func (sc *streamConn) Close() error {
	sc.mu.Lock()
	sc.closed = true
	sc.mu.Unlock()
	sc.r.Shut()
	return nil
}

// TLSState is the TLS state of the carrying connection (engine.Conn.TLS).
func (sc *streamConn) TLSState() *tls.ConnectionState { return sc.tls }

func (sc *streamConn) LocalAddr() net.Addr  { return sc.local }
func (sc *streamConn) RemoteAddr() net.Addr { return sc.remote }

func (sc *streamConn) SetDeadline(t time.Time) error {
	sc.SetReadDeadline(t)
	return sc.SetWriteDeadline(t)
}

// SetReadDeadline implements net.Conn; a deadline wakes a blocked Read
// and never breaks the stream.
func (sc *streamConn) SetReadDeadline(t time.Time) error { return sc.r.SetReadDeadline(t) }

// SetWriteDeadline implements net.Conn: see streamConn.
func (sc *streamConn) SetWriteDeadline(t time.Time) error {
	sc.mu.Lock()
	sc.wdl = t
	writing := sc.writing
	if writing && !t.IsZero() {
		sc.armWriteLocked(max(time.Until(t), 0))
	}
	sc.mu.Unlock()
	return nil
}
