package websocket

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/netkit-go/netkit/internal/engine"
	"github.com/netkit-go/netkit/internal/wsproto"
)

// This file serves a Listener's connections before the upgrade: the engine
// accepts (counting the connection against MaxConnections before anything
// is read), runs the TLS handshake bounded by HandshakeTimeout, then runs
// httpFace on the connection's goroutine. httpFace reads one HTTP/1.1
// request, bounded by the listener's Timeout and MaxHeaderSize, and routes
// it. An upgrade turns the same engine connection into a WebSocket
// (engine.Conn.Become); any other answer is written with Connection: close.
// So the engine owns every connection of a Listener from accept to close:
// there is no http.Server, and no goroutine outside the engine's tracking.

// httpFace is the engine face of a Listener's connection until the upgrade.
type httpFace struct{ l *Listener }

// readerPool holds the bufio.Readers of requests being read.
var httpReaderPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

// connReader reads from an engine connection under ctx.
type connReader struct {
	c   *engine.Conn
	ctx context.Context
}

func (r *connReader) Read(p []byte) (int, error) { return r.c.Read(r.ctx, p) }

// Serve implements engine.ConnFace.
func (f *httpFace) Serve(c *engine.Conn) {
	l := f.l
	if st := c.TLS(); st != nil && st.NegotiatedProtocol == "h2" {
		l.serveH2(c) // RFC 8441: h2.go
		return
	}
	ctx := c.Context()
	if timeout := resolveDur(l.cfg.Timeout, DefaultUpgradeTimeout); timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	maxHeader := l.cfg.MaxHeaderSize
	if maxHeader <= 0 {
		maxHeader = DefaultMaxHeaderSize
	}
	lr := &io.LimitedReader{R: &connReader{c: c, ctx: ctx}, N: int64(maxHeader) + 4096}
	var (
		req  *http.Request
		rest []byte    // the bytes read after the request (the first frames)
		src  io.Reader = lr
	)
	if c.TLS() == nil && !l.noFastPath {
		fh := fastHeadPool.Get().(*fastHead)
		defer fh.put()
		var replay []byte
		req, rest, replay = fh.read(lr, maxHeader)
		if req == nil && len(replay) > 0 {
			// Declined: net/http reads every byte read so far, then the rest.
			src = io.MultiReader(bytes.NewReader(replay), lr)
		}
	}
	if req != nil {
		l.requests[1].Add(1)
	} else {
		l.requests[0].Add(1)
		br := httpReaderPool.Get().(*bufio.Reader)
		br.Reset(src)
		defer func() {
			br.Reset(nil)
			httpReaderPool.Put(br)
		}()
		var err error
		if req, err = http.ReadRequest(br); err != nil {
			failedRequest(ctx, c, lr, err)
			return
		}
		if n := br.Buffered(); n > 0 {
			rest, _ = br.Peek(n)
		}
	}
	lr.N = 1 << 62 // the body is bounded by the timeout only
	req.RemoteAddr = c.RemoteAddr().String()
	req.TLS = c.TLS()
	req = req.WithContext(ctx)
	req, o := l.observeUpgrade(req)
	w := &httpResponse{c: c, ctx: ctx, req: req, header: make(http.Header)}
	l.ServeHTTP(w, req)
	l.upgradeDone(o, w.result())
	if w.next != nil {
		c.Become(w.next, rest, w.cfg) // Become copies rest
		return
	}
	if req.Body != nil {
		req.Body.Close()
	}
	w.finish()
}

// failedRequest answers a request net/http could not read: 431 beyond the
// header limit, 400 for a malformed one, nothing (an immediate close) for a
// silent, trickling or gone client.
func failedRequest(ctx context.Context, c *engine.Conn, lr *io.LimitedReader, err error) {
	switch {
	case lr.N <= 0:
		writeStatus(ctx, c, http.StatusRequestHeaderFieldsTooLarge)
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, context.Canceled), errors.Is(err, io.ErrUnexpectedEOF), isTimeout(err):
		// Silent, trickling or gone: free the slot at once, no linger.
		c.Close(err)
	default:
		writeStatus(ctx, c, http.StatusBadRequest)
	}
}

// fastHead reads a request head for the handshake fast path
// (wsproto.RequestParser): a plain HTTP/1.1 GET upgrade is parsed without
// net/http; anything else is handed back, every byte read kept, for
// http.ReadRequest to read.
type fastHead struct {
	p   wsproto.RequestParser
	buf [4096]byte
}

var fastHeadPool = sync.Pool{New: func() any { return new(fastHead) }}

func (fh *fastHead) put() {
	fh.p.Reset()
	if cap(fh.p.Buffered()) > 2*DefaultMaxHeaderSize {
		fh.p = wsproto.RequestParser{} // a large limit's buffer is not kept
	}
	fastHeadPool.Put(fh)
}

// read reads from lr until the parser decides. With the fast path it
// returns the request and the bytes read after its head; otherwise a nil
// request and every byte read (nil if none), to be read before lr. A read
// error ends the fast path: net/http then reads the same bytes and meets
// the same error, so the answer (or the silent close) is today's. The
// slices are fh's, valid until put.
func (fh *fastHead) read(lr *io.LimitedReader, maxHeader int) (req *http.Request, rest, replay []byte) {
	fh.p.Reset()
	fh.p.MaxHeaderBytes = maxHeader
	for first := true; ; first = false {
		n, err := lr.Read(fh.buf[:])
		b := fh.buf[:n]
		used, st := fh.p.Feed(b)
		switch st {
		case wsproto.FastPath:
			if req = fh.p.Request(); req != nil {
				return req, b[used:], nil
			}
			if first { // the head is b[:used]
				return nil, nil, b
			}
			return nil, nil, append(fh.p.Buffered(), b[used:]...)
		case wsproto.NotFastPath:
			return nil, nil, append(fh.p.Buffered(), b[used:]...)
		}
		if err != nil || n == 0 {
			return nil, nil, fh.p.Buffered()
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// answeredLinger bounds the wait for a client's EOF after an answer that
// is not an upgrade (Connection: close), as net/http's 500 ms: the client
// has its answer, and a client that keeps its socket open must not hold a
// slot, or a GracefulStop, for the engine's full Linger.
const answeredLinger = 500 * time.Millisecond

// writeStatus answers with a bare status and closes.
func writeStatus(ctx context.Context, c *engine.Conn, status int) {
	w := &httpResponse{c: c, ctx: ctx, header: make(http.Header)}
	http.Error(w, http.StatusText(status), status)
	w.finish()
}

// httpResponse is the http.ResponseWriter of a request read by httpFace.
// The body is buffered and sent with its Content-Length when the handler
// returns; the connection then closes (no keep-alive).
type httpResponse struct {
	c      *engine.Conn
	ctx    context.Context
	req    *http.Request
	header http.Header
	status int
	body   bytes.Buffer

	next *session           // set by upgrade
	cfg  *engine.ConnConfig // the upgraded connection's settings
}

func (w *httpResponse) Header() http.Header { return w.header }

func (w *httpResponse) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *httpResponse) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(p)
}

// result is the status answered: 101 after an upgrade.
func (w *httpResponse) result() int {
	switch {
	case w.next != nil:
		return http.StatusSwitchingProtocols
	case w.status == 0:
		return http.StatusOK
	}
	return w.status
}

// finish writes the response.
func (w *httpResponse) finish() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	b := make([]byte, 0, 256+w.body.Len())
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(w.status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(w.status)...)
	b = append(b, "\r\n"...)
	h := w.header
	h.Del("Transfer-Encoding")
	h.Set("Connection", "close")
	if h.Get("Date") == "" {
		h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	bodyAllowed := w.status >= 200 && w.status != http.StatusNoContent && w.status != http.StatusNotModified
	if bodyAllowed {
		h.Set("Content-Length", strconv.Itoa(w.body.Len()))
		if w.body.Len() > 0 && h.Get("Content-Type") == "" {
			h.Set("Content-Type", http.DetectContentType(w.body.Bytes()))
		}
	}
	var hb bytes.Buffer
	h.Write(&hb)
	b = append(b, hb.Bytes()...)
	b = append(b, "\r\n"...)
	if bodyAllowed && (w.req == nil || w.req.Method != http.MethodHead) {
		b = append(b, w.body.Bytes()...)
	}
	w.c.Write(w.ctx, b)
	w.c.SetLinger(answeredLinger)
}

// upgrade writes the 101 response and hands the connection to s when the
// request's handler returns.
func (w *httpResponse) upgrade(hs handshakeResult, respHeader http.Header, s *session, cfg engine.ConnConfig) error {
	for _, name := range []string{"Upgrade", "Connection", "Sec-Websocket-Accept", "Sec-Websocket-Protocol", "Sec-Websocket-Extensions"} {
		delete(respHeader, name)
	}
	resp := wsproto.AppendResponse(make([]byte, 0, 256), hs.key, hs.sub, hs.ext, respHeader)
	if _, err := w.c.Write(w.ctx, resp); err != nil {
		return err
	}
	w.next, w.cfg = s, &cfg
	return nil
}
