package websocket

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/netkit-go/netkit/internal/bufpool"
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
// a timed-out read. So the body is read by a pump goroutine (into 512
// bytes of its own while the socket is idle, a pooled 4 KiB buffer that
// the engine then takes, ReadPooled, while data flows), and Read waits on
// a condition with a deadline of its own: a deadline never breaks the
// stream. A write that is still blocked on the
// stream's flow-control window when its deadline passes resets the stream
// (x/net cannot withdraw the bytes it accepted): it fails with a timeout,
// and the connection ends.
type streamConn struct {
	ctx    context.Context // the request's: its cancelConn counts a drop
	w      http.ResponseWriter
	body   io.ReadCloser
	rc     *http.ResponseController
	tls    *tls.ConnectionState
	local  net.Addr
	remote net.Addr

	mu   sync.Mutex
	cond sync.Cond
	pbuf *[]byte // the pump's pooled buffer (nil once handed over)
	pend []byte  // read by the pump, not yet by Read (of *pbuf or small)
	// small is what the pump waits with while the socket is idle (one
	// short read after another); a read that fills it switches to pbuf
	// until the next short read.
	small   [512]byte
	inSmall bool  // pend is a slice of small
	rerr    error // the body's error, after pend
	rdl     time.Time
	rtimer  *time.Timer
	closed  bool
	clean   bool // the stream ends with END_STREAM, not a reset

	wdl     time.Time
	writing bool
	wfired  bool
	wtimer  *time.Timer
	broken  bool // a write deadline reset the stream

	pumped chan struct{} // closed when the pump has returned
}

func newStreamConn(w http.ResponseWriter, r *http.Request, local net.Addr) *streamConn {
	sc := &streamConn{ctx: r.Context(), w: w, body: r.Body, rc: http.NewResponseController(w), tls: r.TLS, local: local,
		pumped: make(chan struct{})}
	sc.cond.L = &sc.mu
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

// start starts the pump.
func (sc *streamConn) start() { go sc.pump() }

// pump reads the body into buf, one read at a time: it reads again only
// once Read has taken everything, so a socket whose callbacks do not keep
// up stops returning flow-control credit to its peer (HTTP/2's per-stream
// window is the backpressure) without holding up the connection's other
// streams.
func (sc *streamConn) pump() {
	defer close(sc.pumped)
	useSmall := true
	for {
		sc.mu.Lock()
		for len(sc.pend) > 0 && !sc.closed {
			sc.cond.Wait()
		}
		if sc.closed || sc.rerr != nil {
			sc.mu.Unlock()
			return
		}
		// Nobody takes pbuf or writes small while pend is empty: the
		// buffer is the pump's until the read below returns.
		dst := sc.small[:]
		if !useSmall {
			if sc.pbuf == nil {
				sc.pbuf = bufpool.Get(0)
			}
			dst = *sc.pbuf
		}
		sc.mu.Unlock()
		n, err := sc.body.Read(dst)
		sc.mu.Lock()
		sc.pend, sc.inSmall = dst[:n], useSmall
		if err != nil {
			sc.rerr = err
		}
		sc.cond.Broadcast()
		sc.mu.Unlock()
		useSmall = n < len(dst) // a short read: the peer sent all it had
	}
}

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
	sc.cond.Broadcast()
	if sc.rtimer != nil {
		sc.rtimer.Stop()
	}
	if sc.wtimer != nil {
		sc.wtimer.Stop()
	}
	clean := sc.clean || errors.Is(sc.rerr, io.EOF)
	sc.mu.Unlock()
	sc.body.Close() // wakes the pump's read
	<-sc.pumped
	if sc.pbuf != nil {
		bufpool.Put(sc.pbuf)
		sc.pbuf, sc.pend = nil, nil
	}
	if !clean {
		dropping(sc.ctx)
		panic(http.ErrAbortHandler)
	}
}

// Read implements net.Conn.
func (sc *streamConn) Read(p []byte) (int, error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if err := sc.waitLocked(); err != nil {
		return 0, err
	}
	n := copy(p, sc.pend)
	sc.pend = sc.pend[n:]
	if len(sc.pend) == 0 {
		sc.cond.Broadcast() // the pump reads on
	}
	return n, nil
}

// ReadPooled implements engine.PooledReader: the pump's buffer itself,
// so that an idle stream holds one buffer (the pump's), not two.
func (sc *streamConn) ReadPooled() (*[]byte, int, error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if err := sc.waitLocked(); err != nil {
		return nil, 0, err
	}
	b := sc.pbuf
	if sc.inSmall {
		b = bufpool.Get(0) // pbuf stays the pump's
	} else {
		sc.pbuf = nil
	}
	n := copy(*b, sc.pend) // after a partial Read, to the start
	sc.pend = nil
	sc.cond.Broadcast() // the pump reads on, into a new buffer
	return b, n, nil
}

// waitLocked waits until pend has bytes, or returns why the read ends.
func (sc *streamConn) waitLocked() error {
	for {
		switch {
		case sc.closed:
			return net.ErrClosed
		case len(sc.pend) > 0:
			return nil
		case sc.rerr != nil:
			return sc.rerr
		case sc.clean:
			return io.EOF // CloseWrite: the stream is ending
		case !sc.rdl.IsZero() && !time.Now().Before(sc.rdl):
			return os.ErrDeadlineExceeded
		}
		sc.cond.Wait()
	}
}

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
	sc.mu.Lock()
	sc.clean = true
	sc.cond.Broadcast()
	sc.mu.Unlock()
	return nil
}

// Close implements net.Conn. The stream itself ends when the handler
// returns (end).
func (sc *streamConn) Close() error {
	sc.mu.Lock()
	sc.closed = true
	sc.cond.Broadcast()
	sc.mu.Unlock()
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
func (sc *streamConn) SetReadDeadline(t time.Time) error {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.rdl = t
	if t.IsZero() {
		if sc.rtimer != nil {
			sc.rtimer.Stop()
		}
		return nil
	}
	d := time.Until(t)
	if d <= 0 {
		if sc.rtimer != nil {
			sc.rtimer.Stop()
		}
		sc.cond.Broadcast()
		return nil
	}
	if sc.rtimer == nil {
		sc.rtimer = time.AfterFunc(d, sc.wake)
	} else {
		sc.rtimer.Reset(d)
	}
	return nil
}

func (sc *streamConn) wake() {
	sc.mu.Lock()
	sc.cond.Broadcast()
	sc.mu.Unlock()
}

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
