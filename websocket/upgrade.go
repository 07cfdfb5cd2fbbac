package websocket

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/netkit-go/netkit/internal/engine"
	"github.com/netkit-go/netkit/internal/obs"
	"github.com/netkit-go/netkit/internal/wsproto"
)

// DefaultUpgradeTimeout bounds reading the upgrade request of a Listener
// and writing the 101 response (of a Listener, a standalone Handler and
// Accept). Ballerina's is 120 s; netkit's is 10 s, as coder/websocket's and
// the CIS guidance's, so that trickling clients cannot hold memory for long.
const DefaultUpgradeTimeout = 10 * time.Second

// Handler is an http.Handler that upgrades requests to WebSocket
// connections served by an UpgradeService. Mount it on any mux. Since
// http.Server.Shutdown ignores upgraded (hijacked) connections, Handler has
// its own GracefulStop and ImmediateStop.
type Handler struct {
	up        UpgradeService
	sc        ServiceConfig
	cc        connConfig
	srv       *engine.Server
	timeout   time.Duration // bound on writing the 101 response
	noDeflate bool
	server    string // Server header

	// lastHooks are the hooks of the last upgrade, shared by the sessions
	// whose Service resolves to the same (sharedHooks).
	lastHooks atomic.Pointer[hooks]

	// stopped is permanent (the Handler's own stop). The connections are
	// the engine server's: the Handler has no set or stop of its own.
	stopped atomic.Bool

	// standalone: made by NewHandler, it observes its own upgrade
	// requests (a Listener's Handler is observed by the Listener).
	standalone bool
}

// NewHandler returns a Handler for s with sc (nil: defaults).
func NewHandler(s UpgradeService, sc *ServiceConfig) *Handler {
	h := newHandler(s, sc, nil, DefaultUpgradeTimeout)
	h.standalone = true
	h.cc.obs = serviceObs(&h.sc)
	return h
}

func newHandler(s UpgradeService, sc *ServiceConfig, logger *slog.Logger, timeout time.Duration) *Handler {
	h := &Handler{up: s, timeout: timeout}
	if sc != nil {
		h.sc = *sc
	}
	h.cc = h.sc.resolve(logger)
	// Upgraded connections count against MaxConnections (the open-file
	// limit minus 64): at the limit, an upgrade gets 503.
	h.srv = engine.NewServer(engine.Config{Conn: h.cc.engineConfig()})
	return h
}

// sharedHooks returns hk as a pointer shared with earlier sessions when
// they resolved to the same hooks: an UpgradeService usually returns one
// Service, and its 128-byte hooks need not be copied into every session.
func (h *Handler) sharedHooks(hk hooks) *hooks {
	if p := h.lastHooks.Load(); p != nil && sameHooks(p, &hk) {
		return p
	}
	p := &hk
	h.lastHooks.Store(p)
	return p
}

// Len returns the number of open connections.
func (h *Handler) Len() int { return h.srv.Len() }

// refuse answers a failed upgrade with status and message.
func refuse(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Connection", "close")
	http.Error(w, msg, status)
}

// upgradeRefusal maps an Upgrade error to the HTTP status and body to
// answer: the refusal types pick the status and their Message (written for
// the peer) is the body; any other error is a 400 whose body is the status
// text, or the error's text if expose.
func upgradeRefusal(err error, expose bool) (status int, body string) {
	var ue *UpgradeError
	var an *AuthnError
	var az *AuthzError
	switch {
	case errors.As(err, &an):
		return http.StatusUnauthorized, an.Message
	case errors.As(err, &az):
		return http.StatusForbidden, az.Message
	case errors.As(err, &ue):
		if ue.Status >= 400 && ue.Status <= 599 {
			return ue.Status, ue.Message
		}
		return http.StatusBadRequest, ue.Message
	case expose:
		return http.StatusBadRequest, err.Error()
	}
	return http.StatusBadRequest, http.StatusText(http.StatusBadRequest)
}

// ServeHTTP upgrades r. Refusals: 400/405/426 for an invalid handshake,
// 403 when CheckOrigin refuses, 400 for a subprotocol mismatch, the
// UpgradeService's error status, 500 when it panics or returns a Service
// with a misspelled callback, 503 after the Handler stopped or at
// MaxConnections, 401 or 403 when ServiceConfig.Auth refuses (checked
// before the UpgradeService runs; the Principal is then on r's context and
// on the Conn). A Listener's connections take the same path.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.standalone && h.cc.obs != nil && isUpgradeRequest(r) {
		observeHTTP(h.cc.obs, patternRoute(r), w, r, h.serveHTTP)
		return
	}
	h.serveHTTP(w, r)
}

func (h *Handler) serveHTTP(w http.ResponseWriter, r *http.Request) {
	h2w, isH2 := w.(*h2Response)
	if !isH2 && r.ProtoMajor >= 2 {
		// A Handler mount on a server given to ConfigureHTTP2.
		h2w, isH2 = &h2Response{ResponseWriter: w}, true
		w = h2w
	}
	if h.server != "" {
		w.Header().Set("Server", h.server)
	}
	hs, ok := negotiate(w, r, &h.sc, h.noDeflate)
	if !ok {
		return
	}
	if h.stopped.Load() {
		refuse(w, http.StatusServiceUnavailable, ErrHandlerStopped.Error())
		return
	}
	if h.srv.Full() || isH2 && h.streamServer(h2w).Full() {
		refuse(w, http.StatusServiceUnavailable, "websocket: too many connections")
		return
	}
	if r, ok = h.authenticate(w, r); !ok { // ServiceConfig.Auth: auth_listener.go
		return
	}
	respHeader := http.Header{}
	svc, err, panicked := h.callUpgrade(r, respHeader)
	if panicked {
		refuse(w, http.StatusInternalServerError, http.StatusText(http.StatusInternalServerError))
		return
	}
	if err != nil {
		status, body := upgradeRefusal(err, h.sc.ExposeUpgradeErrors)
		h.cc.logger.Debug("websocket: upgrade refused", slog.String("remote", r.RemoteAddr), slog.String("path", r.URL.Path), slog.Int("code", status), slog.Any("err", err))
		refuse(w, status, body)
		return
	}
	hk, err := h.resolve(svc)
	if err != nil {
		h.cc.logger.Error(err.Error())
		refuse(w, http.StatusInternalServerError, http.StatusText(http.StatusInternalServerError))
		return
	}
	if h.server != "" {
		respHeader.Set("Server", h.server)
	}
	if isH2 {
		// RFC 8441: the WebSocket runs over this stream, on this goroutine.
		h.serveStream(h2w, r, hs, respHeader, hk)
		return
	}
	if hw, ok := w.(*httpResponse); ok {
		// A Listener's connection: the engine connection that read the
		// request becomes the WebSocket, on the same goroutine.
		c := newConn(wsproto.RoleServer, &h.cc, hs.sub, hw.c.TLS() != nil, hs.params, h.sc.Compression.deflate())
		s := newSession(c, h.sharedHooks(hk), h)
		s.carryPrincipal(r)
		if err := hw.upgrade(hs, respHeader, s, h.cc.engineConfig()); err != nil {
			h.cc.logger.Debug("websocket: upgrade failed", slog.Any("err", err))
		}
		return
	}
	nc, buffered, err := hijack(w, r, hs, respHeader, h.timeout)
	if err != nil {
		h.cc.logger.Debug("websocket: upgrade failed", slog.String("remote", r.RemoteAddr), slog.String("path", r.URL.Path), slog.Any("err", err))
		return
	}
	c := newConn(wsproto.RoleServer, &h.cc, hs.sub, isTLS(nc), hs.params, h.sc.Compression.deflate())
	s := newSession(c, h.sharedHooks(hk), h)
	s.carryPrincipal(r)
	h.srv.AdoptBuffered(nc, s, buffered)
}

func (h *Handler) callUpgrade(r *http.Request, respHeader http.Header) (svc Service, err error, panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			h.cc.logger.Error("websocket: panic in Upgrade", slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
			panicked = true
		}
	}()
	svc, err = h.up.Upgrade(r, respHeader)
	return svc, err, false
}

// GracefulStop closes every connection of h with close 1001 and waits for
// the echoes and the connections' ends, up to ctx; then closes the rest at
// once and returns ctx's error (see the package doc on stops). Later
// upgrades get 503.
func (h *Handler) GracefulStop(ctx context.Context) error {
	h.stopped.Store(true)
	if err := h.srv.GracefulStop(ctx); err != engine.ErrNotStarted {
		return err
	}
	return nil
}

// ImmediateStop closes every connection of h at once (their OnClose runs
// with 1006). Later upgrades get 503.
func (h *Handler) ImmediateStop() error {
	h.stopped.Store(true)
	h.srv.ImmediateStop()
	return nil
}

// handshakeResult is a negotiated handshake.
type handshakeResult struct {
	key    string
	sub    string
	ext    string
	params *wsproto.DeflateParams
}

// negotiate validates the request and negotiates subprotocol and
// compression; on failure it has answered the request.
func negotiate(w http.ResponseWriter, r *http.Request, sc *ServiceConfig, noDeflate bool) (handshakeResult, bool) {
	var hs handshakeResult
	if err := wsproto.CheckRequest(r); err != nil {
		var he *wsproto.HandshakeError
		if errors.As(err, &he) {
			w.Header().Set("Connection", "close")
			he.Respond(w)
		} else {
			refuse(w, http.StatusBadRequest, err.Error())
		}
		return hs, false
	}
	check := sc.CheckOrigin
	if check == nil {
		check = sameOrigin
	}
	if !check(r) {
		refuse(w, http.StatusForbidden, "websocket: request origin not allowed")
		return hs, false
	}
	hs.key = wsproto.RequestKey(r)
	if len(sc.SubProtocols) > 0 {
		offered := wsproto.Subprotocols(r)
		hs.sub = wsproto.SelectSubprotocol(offered, sc.SubProtocols)
		if hs.sub == "" {
			actual := "null"
			if len(offered) > 0 {
				actual = strings.Join(offered, ", ")
			}
			refuse(w, http.StatusBadRequest, "InvalidHandshakeError: Invalid subprotocol. Actual: "+actual+
				". Expected one of: "+strings.Join(sc.SubProtocols, ", "))
			return hs, false
		}
	}
	if !sc.Compression.Disable && !noDeflate {
		if params, ext, ok := wsproto.NegotiateServer(wsproto.ParseExtensions(r.Header), sc.Compression.deflate()); ok {
			hs.params, hs.ext = &params, ext
		}
	}
	return hs, true
}

// hijack takes the connection over from net/http and writes the 101
// response. It returns the bytes net/http had already buffered.
func hijack(w http.ResponseWriter, r *http.Request, hs handshakeResult, respHeader http.Header, timeout time.Duration) (net.Conn, []byte, error) {
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		refuse(w, http.StatusInternalServerError, http.StatusText(http.StatusInternalServerError))
		return nil, nil, err
	}
	var buffered []byte
	if n := brw.Reader.Buffered(); n > 0 {
		p, _ := brw.Reader.Peek(n)
		buffered = append([]byte(nil), p...)
	}
	for _, name := range []string{"Upgrade", "Connection", "Sec-Websocket-Accept", "Sec-Websocket-Protocol", "Sec-Websocket-Extensions"} {
		delete(respHeader, name)
	}
	resp := wsproto.AppendResponse(make([]byte, 0, 256), hs.key, hs.sub, hs.ext, respHeader)
	if timeout > 0 {
		nc.SetDeadline(time.Now().Add(timeout))
	} else {
		nc.SetDeadline(time.Time{})
	}
	if _, err := nc.Write(resp); err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("websocket: writing the 101 response: %w", err)
	}
	nc.SetDeadline(time.Time{})
	return nc, buffered, nil
}

func isTLS(nc net.Conn) bool { _, ok := nc.(*tls.Conn); return ok }

// Accept upgrades r to a WebSocket connection that its caller reads with
// Conn.Read (pull style) on its own goroutine; no Service and no Handler
// are involved, and stopping an http.Server does not close it: close it
// with Conn.Close. Headers already set on w are sent with the 101 response.
// On failure Accept has answered the request and returns an
// *InvalidHandshakeError. sc.Auth is checked first (401 or 403; the
// Principal is on the Conn). The idle timeout and keepalive pings of sc
// apply to Service connections only. Accept serves HTTP/1.1 upgrades
// only: an HTTP/2 request gets 501 (a [Handler] serves RFC 8441).
func Accept(w http.ResponseWriter, r *http.Request, sc *ServiceConfig) (*Conn, error) {
	var cfg ServiceConfig
	if sc != nil {
		cfg = *sc
	}
	o := serviceObs(&cfg)
	if o == nil || !isUpgradeRequest(r) {
		return accept(w, r, &cfg, o)
	}
	route, start := patternRoute(r), time.Now()
	r, span := o.StartUpgrade(r, route)
	c, err := accept(w, r, &cfg, o)
	status := http.StatusSwitchingProtocols
	var ie *InvalidHandshakeError
	if errors.As(err, &ie) {
		status = ie.Status
	}
	obs.EndUpgrade(span, status)
	o.Upgrade(status, route, start)
	return c, err
}

func accept(w http.ResponseWriter, r *http.Request, cfg *ServiceConfig, o *obs.Set) (*Conn, error) {
	if r.ProtoMajor >= 2 {
		// A pulled Conn outlives the request's handler, which an HTTP/2
		// stream cannot: serve HTTP/2 WebSockets with a Handler.
		http.Error(&h2Response{ResponseWriter: w}, "websocket: Accept serves HTTP/1.1 only; over HTTP/2 use a Handler", http.StatusNotImplemented)
		return nil, &InvalidHandshakeError{Status: http.StatusNotImplemented, Message: "Accept serves HTTP/1.1 only (an HTTP/2 request needs a Handler)"}
	}
	rec := &statusRecorder{ResponseWriter: w}
	hs, ok := negotiate(rec, r, cfg, false)
	if !ok {
		return nil, &InvalidHandshakeError{Status: rec.status, Message: "upgrade refused with status " + itoa(rec.status)}
	}
	if r, ok = authenticateRequest(rec, r, cfg, cfg.Logger); !ok { // ServiceConfig.Auth: auth_listener.go
		return nil, &InvalidHandshakeError{Status: rec.status, Message: "upgrade refused with status " + itoa(rec.status)}
	}
	respHeader := w.Header().Clone()
	nc, buffered, err := hijack(w, r, hs, respHeader, DefaultUpgradeTimeout)
	if err != nil {
		return nil, &InvalidHandshakeError{Status: http.StatusInternalServerError, Message: err.Error(), Err: err}
	}
	cc := cfg.resolve(nil)
	cc.obs = o
	c := newConn(wsproto.RoleServer, &cc, hs.sub, isTLS(nc), hs.params, cfg.Compression.deflate())
	c.ec = engine.NewConn(nc, cc.engineConfig())
	c.pull = newPull()
	o.OpenKeyed(c) // closed by the read side or ended
	o.UpgradedKeyed(c)
	if p := PrincipalFrom(r.Context()); p != nil {
		c.SetAttribute(principalAttr, p)
	}
	if len(buffered) > 0 {
		c.rbuf = bufferFor(buffered)
		c.rn = len(buffered)
	}
	return c, nil
}

type statusRecorder struct {
	http.ResponseWriter
	status   int
	hijacked bool   // Hijack succeeded
	onHijack func() // observeHTTP's count of the 101; nil: none
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
