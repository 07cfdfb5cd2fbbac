package h2ext

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

	"golang.org/x/net/http2"

	"github.com/netkit-go/netkit/internal/bufpool"
)

// BodyReader reads an HTTP/2 body (a stream's inbound DATA) with net.Conn
// read-deadline semantics, which golang.org/x/net/http2's bodies lack (their
// deadlines end the stream), for both ends of an RFC 8441 WebSocket (the
// client's [ClientStream], the server's stream adapter in websocket). A pump
// goroutine reads the body, one read at a time, and Read copies from what
// it read, waiting on a condition bounded by the read deadline: a timed-out
// read consumes nothing and the stream stays usable. The pump reads again
// only once everything it read was taken, so the stream's flow-control
// window stays the backpressure and a slow reader does not hold up the
// connection's other streams.
//
// While the stream is idle the pump waits with [IdleReadBuffer] bytes of
// its own (x/net cannot wait without a buffer); a read that fills them
// switches to a pooled buffer until the next short read, and ReadPooled
// hands that buffer itself to the engine (engine.PooledReader).
type BodyReader struct {
	body    io.ReadCloser
	wrapEnd bool // a non-EOF end is a *StreamEnded (the client's)

	mu   sync.Mutex
	cond sync.Cond
	pbuf *[]byte // the pump's pooled buffer (nil once handed over)
	pend []byte  // read by the pump, not yet by Read (of *pbuf or small)
	// small is what the pump waits with while the stream is idle.
	small   [IdleReadBuffer]byte
	inSmall bool  // pend is a slice of small
	err     error // the body's end, after pend
	eof     bool  // EndRead: reads end with io.EOF once pend is taken
	closed  bool
	rdl     time.Time
	rtimer  *time.Timer
	started bool
	pumped  chan struct{} // closed when the pump has returned
}

// IdleReadBuffer is the size of the buffer a [BodyReader]'s pump waits
// with while its stream is idle.
const IdleReadBuffer = 512

// NewBodyReader returns a reader of body; Start starts its pump. With
// wrapEnd, a body that ended other than with END_STREAM reads as a
// *[StreamEnded] (the client's contract); otherwise as the body's error.
func NewBodyReader(body io.ReadCloser, wrapEnd bool) *BodyReader {
	r := &BodyReader{body: body, wrapEnd: wrapEnd, pumped: make(chan struct{})}
	r.cond.L = &r.mu
	return r
}

// Start starts the pump (once).
func (r *BodyReader) Start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.started {
		r.started = true
		go r.pump()
	}
}

// pump reads the body whenever what it read before was taken.
func (r *BodyReader) pump() {
	defer close(r.pumped)
	useSmall := true
	for {
		r.mu.Lock()
		for len(r.pend) > 0 && !r.closed {
			r.cond.Wait()
		}
		if r.closed || r.err != nil {
			r.mu.Unlock()
			return
		}
		// Nobody takes pbuf or writes small while pend is empty: the
		// buffer is the pump's until the read below returns.
		dst := r.small[:]
		if !useSmall {
			if r.pbuf == nil {
				r.pbuf = bufpool.Get(0)
			}
			dst = *r.pbuf
		}
		r.mu.Unlock()
		n, err := r.body.Read(dst)
		r.mu.Lock()
		r.pend, r.inSmall = dst[:n], useSmall
		if err != nil {
			r.err = err
		}
		r.cond.Broadcast()
		r.mu.Unlock()
		useSmall = n < len(dst) // a short read: the peer sent all it had
	}
}

// Read implements io.Reader with the read deadline. After Shut or Close it
// fails with net.ErrClosed.
func (r *BodyReader) Read(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.waitLocked(); err != nil {
		return 0, err
	}
	n := copy(b, r.pend)
	r.pend = r.pend[n:]
	if len(r.pend) == 0 {
		r.cond.Broadcast() // the pump reads on
	}
	return n, nil
}

// ReadPooled implements engine.PooledReader: the pump's pooled buffer
// itself (a new one after an idle read into the small buffer), so that an
// idle stream holds only the small buffer.
func (r *BodyReader) ReadPooled() (*[]byte, int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.waitLocked(); err != nil {
		return nil, 0, err
	}
	b := r.pbuf
	if r.inSmall {
		b = bufpool.Get(0) // pbuf stays the pump's
	} else {
		r.pbuf = nil
	}
	n := copy(*b, r.pend) // after a partial Read, to the start
	r.pend = nil
	r.cond.Broadcast() // the pump reads on, into a new buffer
	return b, n, nil
}

// waitLocked waits until pend has bytes, or returns why the read ends.
func (r *BodyReader) waitLocked() error {
	for {
		switch {
		case r.closed:
			return net.ErrClosed
		case len(r.pend) > 0:
			return nil
		case r.err != nil:
			if r.wrapEnd && r.err != io.EOF {
				// The stream's abnormal end, as a dropped TCP
				// connection: a WebSocket on it reports 1006.
				return &StreamEnded{Err: r.err}
			}
			return r.err
		case r.eof:
			return io.EOF
		case !r.rdl.IsZero() && !time.Now().Before(r.rdl):
			return os.ErrDeadlineExceeded
		}
		r.cond.Wait()
	}
}

// SetReadDeadline sets the deadline of Read (the zero time: none; a past
// one wakes a blocked Read at once, which returns os.ErrDeadlineExceeded).
func (r *BodyReader) SetReadDeadline(t time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rdl = t
	r.rtimer = armDeadline(r.rtimer, t, &r.mu, &r.cond)
	return nil
}

// EndRead makes reads end with io.EOF once what was read is taken (the
// server's CloseWrite: x/net ends a response only when its handler returns,
// so the engine must not linger for the peer's END_STREAM).
func (r *BodyReader) EndRead() {
	r.mu.Lock()
	r.eof = true
	r.cond.Broadcast()
	r.mu.Unlock()
}

// Ended reports whether the stream is ending cleanly: the body ended with
// END_STREAM, or EndRead was called.
func (r *BodyReader) Ended() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.eof || errors.Is(r.err, io.EOF)
}

// Shut makes reads fail with net.ErrClosed at once; the pump goes on until
// Close.
func (r *BodyReader) Shut() {
	r.mu.Lock()
	r.closed = true
	r.cond.Broadcast()
	r.mu.Unlock()
}

// Close stops the pump (closing the body, which resets a stream that has
// not ended), waits for it to return and gives its buffer back.
func (r *BodyReader) Close() error {
	r.mu.Lock()
	r.closed = true
	if r.rtimer != nil {
		r.rtimer.Stop()
	}
	r.cond.Broadcast()
	started := r.started
	r.mu.Unlock()
	err := r.body.Close()
	if started {
		<-r.pumped
	}
	if r.pbuf != nil {
		bufpool.Put(r.pbuf)
		r.pbuf, r.pend = nil, nil
	}
	return err
}

// ClientStream is the client side of an extended CONNECT stream (RFC 8441)
// as a net.Conn, so that the engine drives a client WebSocket on it as any
// connection (the adapter kind: no descriptor, so the goroutine backend on
// every NETKIT_ENGINE, as a TLS connection). Reads come from the response
// body through a [BodyReader], writes go to the request body, both with
// net.Conn deadline semantics: a read or write that times out consumes
// nothing more and the stream stays usable. Two goroutines per stream: the
// BodyReader's pump and the transport's request-body writer; both end with
// the stream.
type ClientStream struct {
	r      *BodyReader // the response body: bytes from the server
	w      *bodyPipe   // the request body: bytes to the server
	tc     *tls.Conn   // the shared connection (addresses, TLS state)
	cancel func()      // ends the request's context (the stream)
	done   func()      // releases the pool's slot, once

	closeMu sync.Once
}

func newClientStream(body io.ReadCloser, w *bodyPipe, tc *tls.Conn, cancel, done func()) *ClientStream {
	r := NewBodyReader(body, true)
	r.Start()
	return &ClientStream{r: r, w: w, tc: tc, cancel: cancel, done: done}
}

// Read implements net.Conn.
func (s *ClientStream) Read(b []byte) (int, error) { return s.r.Read(b) }

// ReadPooled implements engine.PooledReader (see [BodyReader.ReadPooled]).
func (s *ClientStream) ReadPooled() (*[]byte, int, error) { return s.r.ReadPooled() }

// Write implements net.Conn: it returns once the transport took every
// byte for its DATA frames (it takes the next only after writing those,
// within the stream's flow-control window).
func (s *ClientStream) Write(b []byte) (int, error) { return s.w.write(b) }

// CloseWrite ends the request body: END_STREAM, HTTP/2's half-close.
func (s *ClientStream) CloseWrite() error { s.w.closeWrite(); return nil }

// CloseDrainWait bounds how long Close waits for the transport to send
// what was written before it resets the stream.
const CloseDrainWait = time.Second

// Close resets the stream if it has not ended (RST_STREAM CANCEL) and
// releases its place on the pooled connection. It first ends the request
// body and waits, up to CloseDrainWait, for the transport to have sent
// every byte written (a Write returns once the transport took its bytes,
// before their DATA frame is on the wire): so the close frame of a
// WebSocket failed for a protocol error reaches the peer, as it does over
// TCP, instead of being dropped by the reset.
func (s *ClientStream) Close() error {
	s.closeMu.Do(func() {
		s.w.closeWrite()
		s.w.waitDrained(CloseDrainWait)
		s.r.Close()
		s.cancel()
		s.w.close()
		s.done()
	})
	return nil
}

// LocalAddr implements net.Conn: the shared connection's.
func (s *ClientStream) LocalAddr() net.Addr { return s.tc.LocalAddr() }

// RemoteAddr implements net.Conn: the shared connection's.
func (s *ClientStream) RemoteAddr() net.Addr { return s.tc.RemoteAddr() }

// TLSState is the shared connection's TLS state (engine.Conn.TLS).
func (s *ClientStream) TLSState() *tls.ConnectionState {
	st := s.tc.ConnectionState()
	return &st
}

// SetDeadline implements net.Conn.
func (s *ClientStream) SetDeadline(t time.Time) error {
	s.SetReadDeadline(t)
	return s.SetWriteDeadline(t)
}

// SetReadDeadline implements net.Conn.
func (s *ClientStream) SetReadDeadline(t time.Time) error { return s.r.SetReadDeadline(t) }

// SetWriteDeadline implements net.Conn.
func (s *ClientStream) SetWriteDeadline(t time.Time) error {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	s.w.wdl = t
	s.w.wtimer = armDeadline(s.w.wtimer, t, &s.w.mu, &s.w.cond)
	return nil
}

// armDeadline makes cond wake its waiters at t (none for the zero time;
// at once for a past one). mu is held by the caller.
func armDeadline(tm *time.Timer, t time.Time, mu *sync.Mutex, cond *sync.Cond) *time.Timer {
	if tm != nil {
		tm.Stop()
	}
	if t.IsZero() {
		return tm
	}
	d := time.Until(t)
	if d <= 0 {
		cond.Broadcast()
		return tm
	}
	if tm == nil {
		return time.AfterFunc(d, func() {
			mu.Lock()
			cond.Broadcast()
			mu.Unlock()
		})
	}
	tm.Reset(d)
	return tm
}

// bodyPipe is the request body of an extended CONNECT: the transport's
// goroutine reads it (Read) while the WebSocket writes (write) with a
// deadline. A write hands its slice over and waits until the transport has
// copied all of it, the deadline passes, or the stream ends.
type bodyPipe struct {
	mu   sync.Mutex
	cond sync.Cond
	p    []byte // handed over by write, not yet read
	eof  bool   // closeWrite: the reader gets io.EOF once p is empty
	// drained: the transport read io.EOF, so it wrote every DATA frame
	// before (it reads again only after writing what it read).
	drained bool
	ended   bool // the transport closed the body or the stream closed
	wdl     time.Time
	wtimer  *time.Timer
}

func newBodyPipe() *bodyPipe {
	p := &bodyPipe{}
	p.cond.L = &p.mu
	return p
}

// Read is the transport's side.
func (p *bodyPipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.p) == 0 && !p.eof && !p.ended {
		p.cond.Wait()
	}
	if p.ended {
		return 0, io.ErrClosedPipe
	}
	if len(p.p) == 0 {
		p.drained = true
		p.cond.Broadcast()
		return 0, io.EOF
	}
	n := copy(b, p.p)
	p.p = p.p[n:]
	if len(p.p) == 0 {
		p.cond.Broadcast()
	}
	return n, nil
}

// Close is the transport's: the stream ended, writes fail from now on.
func (p *bodyPipe) Close() error { p.close(); return nil }

func (p *bodyPipe) close() {
	p.mu.Lock()
	p.ended = true
	if p.wtimer != nil {
		p.wtimer.Stop()
	}
	p.cond.Broadcast()
	p.mu.Unlock()
}

// waitDrained waits up to d for the transport to read the end of the
// body (after closeWrite), or for the stream's end.
func (p *bodyPipe) waitDrained(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := time.AfterFunc(d, func() {
		p.mu.Lock()
		p.ended = true // give up: the reset follows
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer t.Stop()
	for !p.drained && !p.ended {
		p.cond.Wait()
	}
}

func (p *bodyPipe) closeWrite() {
	p.mu.Lock()
	p.eof = true
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *bodyPipe) write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended || p.eof {
		return 0, net.ErrClosed
	}
	if len(b) == 0 {
		return 0, nil
	}
	p.p = b
	p.cond.Broadcast()
	for len(p.p) > 0 && !p.ended && (p.wdl.IsZero() || time.Now().Before(p.wdl)) {
		p.cond.Wait()
	}
	n := len(b) - len(p.p)
	if len(p.p) == 0 {
		return n, nil
	}
	p.p = nil // not taken: the caller keeps it
	if p.ended {
		return n, net.ErrClosed
	}
	return n, os.ErrDeadlineExceeded
}

// StreamEnded is a stream's end other than END_STREAM (RST_STREAM, GOAWAY,
// the connection's end). It matches io.EOF (a WebSocket on the stream ends
// as on a dropped TCP connection: 1006) and wraps the HTTP/2 cause.
type StreamEnded struct{ Err error }

// Error returns the message.
func (e *StreamEnded) Error() string { return "HTTP/2 stream ended: " + e.Err.Error() }

// Unwrap returns io.EOF and the cause.
func (e *StreamEnded) Unwrap() []error { return []error{io.EOF, e.Err} }

// Connect opens an extended CONNECT stream on cc (a connection over tc):
// req is sent with its Body replaced by the stream's write side and a
// context of the stream's own, so that the stream outlives ctx, which only
// bounds the wait for the response headers. For a 200 it returns the
// response and the stream (whose Close runs done once); for another status
// the response, whose body the caller reads and closes, and a nil stream
// (done is not run). An error of cc.RoundTrip is returned as is.
func Connect(ctx context.Context, cc *http2.ClientConn, tc *tls.Conn, req *http.Request, done func()) (*http.Response, *ClientStream, error) {
	body := newBodyPipe()
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	req = req.WithContext(sctx)
	req.Body = body
	req.ContentLength = -1
	stop := context.AfterFunc(ctx, cancel)
	resp, err := cc.RoundTrip(req)
	if err != nil {
		stop()
		cancel()
		body.close()
		if ctx.Err() != nil {
			return nil, nil, context.Cause(ctx)
		}
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		// The caller reads the body, still bounded by ctx; closing it ends
		// the stream.
		resp.Body = &cancelBody{ReadCloser: resp.Body, stop: stop, cancel: cancel, pipe: body}
		return resp, nil, nil
	}
	if !stop() {
		resp.Body.Close()
		body.close()
		return nil, nil, context.Cause(ctx)
	}
	var once sync.Once
	return resp, newClientStream(resp.Body, body, tc, cancel, func() { once.Do(done) }), nil
}

type cancelBody struct {
	io.ReadCloser
	stop   func() bool
	cancel func()
	pipe   *bodyPipe
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.stop()
	b.cancel()
	b.pipe.close()
	return err
}
