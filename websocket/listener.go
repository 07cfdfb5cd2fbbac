package websocket

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/netkit-go/netkit"
	"github.com/netkit-go/netkit/internal/engine"
	"github.com/netkit-go/netkit/internal/obs"
	"github.com/netkit-go/netkit/internal/tlsconf"
	"github.com/netkit-go/netkit/tlsconfig"
)

// Defaults of ListenerConfig.
const (
	// DefaultMaxURILength is the longest request URI accepted (414 beyond).
	DefaultMaxURILength = 4096
	// DefaultMaxHeaderSize bounds the upgrade request's header (431 beyond).
	DefaultMaxHeaderSize = 8192
)

// ListenerConfig configures a [Listener] (Ballerina's
// ListenerConfiguration). The zero value (or nil) listens on every interface
// without TLS.
type ListenerConfig struct {
	// Host is the address to bind. Default: every interface.
	Host string
	// SecureSocket enables TLS (wss), with the tlsconfig types, as tcp. The
	// TLS handshake is bounded by its HandshakeTimeout (0: 10 s; negative:
	// none), then the upgrade request by Timeout.
	SecureSocket *tlsconfig.ListenerSecureSocket
	// TLSConfig is a base TLS configuration (cloned; SecureSocket applied
	// on top). Setting it alone enables TLS too. ALPN offers h2 and
	// http/1.1 (http/1.1 only with DisableHTTP2).
	TLSConfig *tls.Config
	// DisableHTTP2 turns HTTP/2 off: with TLS, ALPN then offers http/1.1
	// only. Otherwise a TLS connection that negotiates h2 is served by
	// golang.org/x/net/http2 with RFC 8441's extended CONNECT advertised:
	// each WebSocket is a stream of that connection, served by the same
	// services as the HTTP/1.1 Upgrade on the same paths (docs/http2.md).
	DisableHTTP2 bool
	// MaxConcurrentStreams bounds the streams one HTTP/2 connection may
	// have open at once (each WebSocket is one, and counts against
	// MaxConnections too). 0: 250 (DefaultMaxConcurrentStreams).
	MaxConcurrentStreams uint32
	// Timeout bounds reading the upgrade request (header and body, from the
	// end of the TLS handshake) and writing the answer, so a client
	// trickling its request cannot hold resources for long. 0: 10 s
	// (Ballerina: 120 s); negative: none.
	Timeout time.Duration
	// MaxConnections pauses accepting while this many connections are open,
	// counted from accept: connections still in the TLS handshake or the
	// upgrade request count. 0: the process's open-file limit minus 64;
	// negative: no cap.
	MaxConnections int
	// Server is the value of the Server header of responses; default none.
	Server string
	// MaxURILength: a longer request URI gets 414. 0: 4096.
	MaxURILength int
	// MaxHeaderSize bounds the request header (net/http answers 431). 0:
	// 8192.
	MaxHeaderSize int
	// DisableCompression turns permessage-deflate off for every service
	// (Ballerina's webSocketCompressionEnabled: false).
	DisableCompression bool
	// Fallback serves plain (non-upgrade) HTTP requests, for example a page
	// that opens the WebSocket. Nil: such requests get 404, or 426 on an
	// attached path. Its response is buffered and sent with its
	// Content-Length; the connection then closes (no keep-alive).
	Fallback http.Handler
	// ListenConfig binds the socket. Nil: net.ListenConfig's defaults.
	ListenConfig *net.ListenConfig
	// Logger receives errors and panics. Nil: slog.Default().
	Logger *slog.Logger
	// Engine picks the backend that serves the connections: the event loop
	// or one goroutine per connection (netkit.Engine; the default is the
	// event loop on Linux, goroutines elsewhere). The environment variable
	// NETKIT_ENGINE overrides it. wss:// (TLS) connections run on goroutines on either.
	Engine netkit.Engine
	// MeterProvider, if set, receives the listener's metrics
	// (docs/metrics.md). Nil: none, at no cost.
	MeterProvider metric.MeterProvider
	// TracerProvider, if set, receives one span per upgrade request, its
	// parent extracted from the request's headers with
	// otel.GetTextMapPropagator(). Nil: none.
	TracerProvider trace.TracerProvider
}

// Listener is a WebSocket server that routes upgrade requests by path to
// attached services. Its connections are the engine's from accept to
// close (see the package doc). It may be stopped and started again. Its
// methods are safe for concurrent use.
type Listener struct {
	port int
	cfg  ListenerConfig
	tls  *tls.Config
	obs  *obs.Set
	srv  *engine.Server
	face httpFace

	mu     sync.Mutex
	routes map[string]*Handler

	// requests counts the HTTP/1.1 requests read by net/http ([0]) and by
	// the handshake fast path ([1]) (httpconn.go); tests read it.
	requests   [2]atomic.Uint64
	noFastPath bool // tests: every request through net/http
}

// NewListener returns a listener for port (0 picks a free port; Addr
// reports it after Start). It binds at Start. TLS configuration errors are
// reported here.
func NewListener(port int, cfg *ListenerConfig) (*Listener, error) {
	if port < 0 || port > 65535 {
		return nil, errors.New("websocket: invalid port " + strconv.Itoa(port))
	}
	l := &Listener{port: port, routes: make(map[string]*Handler)}
	if cfg != nil {
		l.cfg = *cfg
	}
	if err := engine.CheckBackend(l.cfg.Engine); err != nil {
		return nil, errors.New("websocket: " + err.Error())
	}
	if l.cfg.Logger == nil {
		l.cfg.Logger = slog.Default()
	}
	l.obs = obs.New(obs.Config{Face: obs.FaceWebSocket, Role: obs.RoleServer, Transport: "tcp", MeterProvider: l.cfg.MeterProvider, TracerProvider: l.cfg.TracerProvider})
	if l.cfg.SecureSocket != nil || l.cfg.TLSConfig != nil {
		tc, err := tlsconf.ServerConfig(l.cfg.SecureSocket, l.cfg.TLSConfig)
		if err != nil {
			return nil, err
		}
		tc.NextProtos = []string{"http/1.1"}
		if !l.cfg.DisableHTTP2 {
			tc.NextProtos = []string{"h2", "http/1.1"}
		}
		l.tls = tc
	}
	hs := tlsconf.HandshakeTimeout(0)
	if l.cfg.SecureSocket != nil {
		hs = tlsconf.HandshakeTimeout(l.cfg.SecureSocket.HandshakeTimeout)
	}
	l.face.l = l
	l.srv = engine.NewServer(engine.Config{
		Conn: engine.ConnConfig{
			Logger:       l.cfg.Logger,
			WriteTimeout: resolveDur(l.cfg.Timeout, DefaultUpgradeTimeout),
		},
		MaxConnections:   l.cfg.MaxConnections,
		Backend:          l.cfg.Engine,
		TLS:              l.tls,
		HandshakeTimeout: hs,
		NewFace:          func(*engine.Conn) engine.Face { return &l.face },
		ConnState:        l.obsConnState(),
		HandshakeFailed:  func(*engine.Conn, error) { l.obs.Error(obs.KindTLS) },
	})
	return l, nil
}

func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	return path.Clean(p)
}

// Attach serves upgrade requests for path (cleaned; "" is "/") with s and
// sc. Paths match exactly. Attaching a path twice is an error matching
// [ErrServiceAttached].
func (l *Listener) Attach(p string, s UpgradeService, sc *ServiceConfig) error {
	if s == nil {
		return errors.New("websocket: nil UpgradeService")
	}
	p = cleanPath(p)
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.routes[p]; ok {
		return &kindError{kind: ErrServiceAttached, msg: "websocket: a service is already attached at " + p}
	}
	h := newHandler(s, sc, l.cfg.Logger, resolveDur(l.cfg.Timeout, DefaultUpgradeTimeout))
	h.noDeflate = l.cfg.DisableCompression
	h.server = l.cfg.Server
	h.cc.obs = l.obs
	if err := h.checkStatic(); err != nil {
		return err
	}
	l.routes[p] = h
	return nil
}

// Detach stops routing path. Its open connections are unaffected (until
// the listener stops). Detaching a path without a service is an error.
func (l *Listener) Detach(p string) error {
	p = cleanPath(p)
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.routes[p]; !ok {
		return errors.New("websocket: cannot detach service: no service is registered at " + p)
	}
	delete(l.routes, p)
	return nil
}

// ServeHTTP routes a request: upgrade requests by path to the attached
// service (404 "No service found to handle the service request" for an
// unknown path), other requests to Fallback.
func (l *Listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !l.ownConn(w) && l.obs != nil && isUpgradeRequest(r) {
		// Mounted in another server: observed here, as the Listener's own
		// connections are where they are read (httpconn.go).
		observeHTTP(l.obs, l.route(r), w, r, l.serveHTTP)
		return
	}
	l.serveHTTP(w, r)
}

// ownConn reports whether w answers a request read from one of l's own
// connections (HTTP/1.1 in httpconn.go, an HTTP/2 stream in h2.go), which
// are observed where they are read: its streams then join l's engine
// server (MaxConnections, the stop's 1001 before GOAWAY).
func (l *Listener) ownConn(w http.ResponseWriter) bool {
	switch w := w.(type) {
	case *httpResponse:
		return true
	case *h2Response:
		return w.host != nil && w.host.l == l
	}
	return false
}

func (l *Listener) serveHTTP(w http.ResponseWriter, r *http.Request) {
	maxURI := l.cfg.MaxURILength
	if maxURI <= 0 {
		maxURI = DefaultMaxURILength
	}
	if len(r.RequestURI) > maxURI {
		refuse(w, http.StatusRequestURITooLong, http.StatusText(http.StatusRequestURITooLong))
		return
	}
	if l.cfg.Server != "" {
		w.Header().Set("Server", l.cfg.Server)
	}
	l.mu.Lock()
	h := l.routes[cleanPath(r.URL.Path)]
	l.mu.Unlock()
	upgrade := isUpgradeRequest(r)
	switch {
	case r.Method == http.MethodConnect && r.Header.Get(":protocol") == "":
		// An HTTP/2 CONNECT without :protocol asks for a tunnel (a proxy's
		// job), not a WebSocket (RFC 8441 §4).
		refuse(w, http.StatusBadRequest, "websocket: CONNECT without :protocol")
	case !upgrade && l.cfg.Fallback != nil:
		l.cfg.Fallback.ServeHTTP(w, r)
	case h == nil:
		refuse(w, http.StatusNotFound, "No service found to handle the service request")
	default:
		h.ServeHTTP(w, r)
	}
}

// Start binds Host:port and serves in the background; it returns once
// bound. A bind failure wraps the cause ("websocket: failed to start the
// listener: ..."): a port in use matches syscall.EADDRINUSE.
func (l *Listener) Start() error {
	err := l.srv.Listen(l.cfg.ListenConfig, "tcp", net.JoinHostPort(l.cfg.Host, strconv.Itoa(l.port)))
	if errors.Is(err, ErrAlreadyStarted) {
		return err
	}
	if err != nil {
		return fmt.Errorf("websocket: failed to start the listener: %w", err)
	}
	l.obs.Bind(l.srv.Addr())
	return nil
}

// Serve serves ln in the background (a custom transport). The listener owns
// ln from now on.
func (l *Listener) Serve(ln net.Listener) error {
	l.obs.Bind(ln.Addr())
	return l.srv.Serve(ln)
}

// Addr returns the bound address; after a stop, the address it was bound
// to; nil before the first start.
func (l *Listener) Addr() net.Addr { return l.srv.Addr() }

// Port returns the bound port, or 0.
func (l *Listener) Port() int {
	if ta, ok := l.Addr().(*net.TCPAddr); ok {
		return ta.Port
	}
	return 0
}

// Done returns a channel closed when the listener stops serving (nil
// before Start).
func (l *Listener) Done() <-chan struct{} { return l.srv.Done() }

// Err returns the fatal error that stopped serving, if any.
func (l *Listener) Err() error { return l.srv.Err() }

// Len returns the number of open connections, upgraded or not yet.
func (l *Listener) Len() int { return l.srv.Len() }

// GracefulStop stops accepting and closes every connection gracefully
// through the engine: a connection still reading its upgrade request is
// closed; a WebSocket finishes its running callback and the replies it
// writes, is sent close 1001 from its own goroutine, and is awaited until
// the peer's echo (within ConnectionClosureTimeout). GracefulStop returns
// nil when every connection ended, or ctx's error by ctx's deadline, the
// rest then being closed at once. The listener may be started again.
func (l *Listener) GracefulStop(ctx context.Context) error {
	err := l.srv.GracefulStop(ctx)
	if err == engine.ErrNotStarted {
		return ErrNotStarted
	}
	l.obs.Stop(obs.StopGraceful)
	return err
}

// ImmediateStop stops accepting and closes every connection at once
// (OnClose runs with 1006). See engine's stop contract in the package doc.
func (l *Listener) ImmediateStop() error {
	if err := l.srv.ImmediateStop(); err == engine.ErrNotStarted {
		return ErrNotStarted
	}
	l.obs.Stop(obs.StopImmediate)
	return nil
}
