package websocket

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/net/http2"

	"github.com/netkit-go/netkit/internal/engine"
	_ "github.com/netkit-go/netkit/internal/h2ext" // RFC 8441 in golang.org/x/net/http2 (docs/architecture.md, "HTTP/2")
	"github.com/netkit-go/netkit/internal/wsproto"
)

// WebSocket over HTTP/2 (RFC 8441): a Listener with TLS serves HTTP/2 with
// golang.org/x/net/http2 and advertises SETTINGS_ENABLE_CONNECT_PROTOCOL; a
// Handler mounted on a server given to ConfigureHTTP2 gets the extended
// CONNECT too. Both take it through Handler.ServeHTTP, the same path as
// the HTTP/1.1 Upgrade.

// DefaultMaxConcurrentStreams is the number of streams (WebSockets and
// other requests) a Listener lets one HTTP/2 connection open at once
// (ListenerConfig.MaxConcurrentStreams), golang.org/x/net/http2's default.
const DefaultMaxConcurrentStreams = 250

// ConfigureHTTP2 makes srv serve HTTP/2 with golang.org/x/net/http2, which
// netkit builds with RFC 8441's extended CONNECT on, so that a [Handler]
// (or Listener.ServeHTTP) mounted on srv accepts WebSockets over HTTP/2
// from browsers as well as the HTTP/1.1 Upgrade. Call it before srv
// serves; srv then needs TLS (ListenAndServeTLS or ServeTLS) for HTTP/2.
//
// Advertising SETTINGS_ENABLE_CONNECT_PROTOCOL is a promise about every
// handler of srv: a browser whose page came over HTTP/2 then opens its
// WebSockets to srv as an extended CONNECT on that connection, so another
// WebSocket handler on srv that only knows the HTTP/1.1 Upgrade (gorilla,
// coder/websocket, x/net/websocket) gets a CONNECT it refuses, and those
// sockets fail. Mount only netkit Handlers for WebSockets on such a server.
// Other http.Servers of the process are not affected (they keep net/http's
// own HTTP/2, which does not advertise the setting).
//
// Stop a Handler with GracefulStop before srv.Shutdown: its sockets get
// close 1001 over their streams, then Shutdown sends GOAWAY (Shutdown
// alone waits for the sockets' streams to end).
func ConfigureHTTP2(srv *http.Server) error {
	h2s := &http2.Server{}
	if err := http2.ConfigureServer(srv, h2s); err != nil {
		return err
	}
	// x/net's own TLSNextProto["h2"] serves the *tls.Conn as it is; this
	// one serves it through a cancelConn (h2cancel.go), with the
	// connection's base context as x/net's does.
	srv.TLSNextProto[http2.NextProtoTLS] = func(hs *http.Server, c *tls.Conn, h http.Handler) {
		ctx := context.Background()
		if bc, ok := h.(interface{ BaseContext() context.Context }); ok {
			ctx = bc.BaseContext()
		}
		cc := &cancelConn{Conn: c}
		h2s.ServeConn(cc, &http2.ServeConnOpts{Context: withCancelConn(ctx, cc), BaseConfig: hs, Handler: h})
	}
	return nil
}

// HTTPVersion returns the HTTP version the connection's opening handshake
// used: "2" for a WebSocket over an HTTP/2 stream (RFC 8441), "1.1"
// otherwise.
func (c *Conn) HTTPVersion() string {
	if st := c.TLS(); st != nil && st.NegotiatedProtocol == "h2" {
		return "2"
	}
	return "1.1"
}

// h2Response is the ResponseWriter of a request that came over HTTP/2. It
// drops the Connection header of refusals (golang.org/x/net/http2 reads
// Connection: close as a GOAWAY of the whole connection) and carries what
// a Listener's HTTP/2 connection knows.
type h2Response struct {
	http.ResponseWriter
	host      *h2Host // the Listener's connection, or nil (a Handler mount)
	status    int
	upgraded  bool
	onUpgrade func() // the Listener's: the 200 ends the upgrade's observation
}

func (w *h2Response) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.Header().Del("Connection")
	w.ResponseWriter.WriteHeader(status)
}

func (w *h2Response) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// Flush implements http.Flusher.
func (w *h2Response) Flush() { http.NewResponseController(w.ResponseWriter).Flush() }

// Unwrap is for http.ResponseController.
func (w *h2Response) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *h2Response) result() int {
	if w.upgraded {
		return http.StatusOK
	}
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// isUpgradeRequest reports whether r asks for a WebSocket (or another
// protocol): an HTTP/1.1 Upgrade or an HTTP/2 CONNECT.
func isUpgradeRequest(r *http.Request) bool {
	return r.Header.Get("Upgrade") != "" || r.Method == http.MethodConnect
}

// streamServer is the engine server a WebSocket over w's stream joins:
// the Listener's (counted against its MaxConnections), or the Handler's.
func (h *Handler) streamServer(w *h2Response) *engine.Server {
	if w.host != nil {
		return w.host.l.srv
	}
	return h.srv
}

// serveStream answers an accepted extended CONNECT with 200 (RFC 8441 §5:
// no Sec-WebSocket-Accept) and runs the WebSocket over the stream on this
// goroutine until it ends.
func (h *Handler) serveStream(w *h2Response, r *http.Request, hs handshakeResult, respHeader http.Header, hk hooks) {
	for _, name := range []string{"Upgrade", "Connection", "Sec-Websocket-Accept", "Sec-Websocket-Protocol", "Sec-Websocket-Extensions", "Content-Length", "Transfer-Encoding"} {
		delete(respHeader, name)
	}
	hdr := w.Header()
	for k, v := range respHeader {
		hdr[k] = v
	}
	if hs.sub != "" {
		hdr.Set("Sec-WebSocket-Protocol", hs.sub)
	}
	if hs.ext != "" {
		hdr.Set("Sec-WebSocket-Extensions", hs.ext)
	}
	rc := http.NewResponseController(w.ResponseWriter)
	sc := newStreamConn(w.ResponseWriter, r, nil)
	c := newConn(wsproto.RoleServer, &h.cc, hs.sub, r.TLS != nil, hs.params, h.sc.Compression.deflate())
	s := newSession(c, h.sharedHooks(hk), h)
	s.carryPrincipal(r)
	cfg := h.cc.engineConfig()
	if w.host != nil {
		w.host.streamStarted()
		defer w.host.streamEnded()
	}
	// The 200 is written once the stream is counted (so MaxConnections
	// holds under concurrent CONNECTs), before the session opens.
	answer := func() error {
		// The server's ReadTimeout and WriteTimeout (x/net arms them per
		// stream) would end the socket; the upgrade timeout bounds the 200.
		rc.SetReadDeadline(time.Time{})
		if h.timeout > 0 {
			rc.SetWriteDeadline(time.Now().Add(h.timeout))
		}
		w.WriteHeader(http.StatusOK)
		err := rc.Flush()
		rc.SetWriteDeadline(time.Time{})
		if err != nil {
			return err
		}
		w.upgraded = true
		if w.onUpgrade != nil {
			w.onUpgrade()
		}
		sc.start()
		return nil
	}
	switch err := h.streamServer(w).ServeStream(sc, s, &cfg, answer); {
	case errors.Is(err, engine.ErrTooManyConnections):
		refuse(w, http.StatusServiceUnavailable, "websocket: too many connections")
		return
	case errors.Is(err, engine.ErrListenerStopping):
		refuse(w, http.StatusServiceUnavailable, ErrHandlerStopped.Error())
		return
	case err != nil:
		h.cc.logger.Debug("websocket: upgrade failed", slog.String("remote", r.RemoteAddr), slog.String("path", r.URL.Path), slog.Any("err", err))
		panic(http.ErrAbortHandler)
	}
	sc.end()
}

// h2Host is one HTTP/2 connection of a Listener: golang.org/x/net/http2
// serves it on the engine connection's goroutine, and its WebSocket
// streams are connections of the Listener's engine server.
type h2Host struct {
	l    *Listener
	c    *engine.Conn
	base *http.Server // the connection's own, for its GOAWAY (Shutdown)

	mu       sync.Mutex
	streams  int
	stopping bool
	goaway   sync.Once
}

// serveH2 serves c, a TLS connection that negotiated h2, until it ends.
func (l *Listener) serveH2(c *engine.Conn) {
	maxHeader := l.cfg.MaxHeaderSize
	if maxHeader <= 0 {
		maxHeader = DefaultMaxHeaderSize
	}
	hc := &h2Host{l: l, c: c, base: &http.Server{
		ErrorLog: slog.NewLogLogger(l.cfg.Logger.Handler(), slog.LevelDebug),
		// SETTINGS_MAX_HEADER_LIST_SIZE: the bound of an HTTP/1.1 request's.
		MaxHeaderBytes: maxHeader,
	}}
	h2s := &http2.Server{
		MaxConcurrentStreams: l.maxStreams(),
		// A connection without streams frees its MaxConnections slot
		// after the upgrade timeout, as an HTTP/1.1 connection that sends
		// no request.
		IdleTimeout: resolveDur(l.cfg.Timeout, DefaultUpgradeTimeout),
	}
	if err := http2.ConfigureServer(hc.base, h2s); err != nil {
		l.cfg.Logger.Error("websocket: HTTP/2", slog.Any("err", err))
		return
	}
	c.SetStopHook(hc.stop)
	if !c.IsOpen() {
		hc.stop()
	}
	cc := &cancelConn{Conn: c.NetConn()}
	h2s.ServeConn(cc, &http2.ServeConnOpts{Context: withCancelConn(context.Background(), cc), BaseConfig: hc.base, Handler: hc})
	c.Close(nil)
}

func (l *Listener) maxStreams() uint32 {
	if n := l.cfg.MaxConcurrentStreams; n > 0 {
		return n
	}
	return DefaultMaxConcurrentStreams
}

// ServeHTTP serves one stream's request: the Listener's routing, with the
// request observed as an HTTP/1.1 one.
func (hc *h2Host) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l := hc.l
	hw := &h2Response{ResponseWriter: w, host: hc}
	r, o := l.observeUpgrade(r)
	done := false
	defer func() {
		if !done {
			l.upgradeDone(o, hw.result())
		}
	}()
	hw.onUpgrade = func() { done = true; l.upgradeDone(o, http.StatusOK) }
	l.ServeHTTP(hw, r)
}

func (hc *h2Host) streamStarted() {
	hc.mu.Lock()
	hc.streams++
	hc.mu.Unlock()
}

func (hc *h2Host) streamEnded() {
	hc.mu.Lock()
	hc.streams--
	last := hc.stopping && hc.streams == 0
	hc.mu.Unlock()
	if last {
		hc.goAway()
	}
}

// stop is the engine connection's stop hook (a graceful stop): the
// WebSockets of the connection are engine connections of their own and
// get their close 1001; once the last has ended, the connection says
// GOAWAY, and golang.org/x/net/http2 closes it when its requests are done.
func (hc *h2Host) stop() {
	hc.mu.Lock()
	hc.stopping = true
	idle := hc.streams == 0
	hc.mu.Unlock()
	if idle {
		hc.goAway()
	}
}

func (hc *h2Host) goAway() {
	hc.goaway.Do(func() { hc.base.Shutdown(context.Background()) })
}
