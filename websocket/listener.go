package websocket

import (
	"context"
	"crypto/tls"
	"errors"

	"log/slog"
	"net"
	"net/http"
	"path"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/netkit-go/netkit/internal/obs"
	"github.com/netkit-go/netkit/internal/tlsconf"
)

// Defaults of ListenerConfig.
const (
	// DefaultTimeout bounds reading and answering the upgrade request.
	DefaultTimeout = 120 * time.Second
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
	// SecureSocket enables TLS (wss), with the same types as tcp. The
	// handshake is bounded by Timeout (and by its HandshakeTimeout).
	SecureSocket *ListenerSecureSocket
	// TLSConfig is a base TLS configuration (cloned; SecureSocket applied
	// on top). Setting it alone enables TLS too. ALPN offers http/1.1 only.
	TLSConfig *tls.Config
	// Timeout bounds reading the upgrade request (header and body) and
	// writing the answer, so a client trickling its request cannot hold
	// resources for long. 0: 120 s; negative: none.
	Timeout time.Duration
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
	// attached path.
	Fallback http.Handler
	// ListenConfig binds the socket. Nil: net.ListenConfig's defaults.
	ListenConfig *net.ListenConfig
	// Logger receives errors and panics. Nil: slog.Default().
	Logger *slog.Logger
	// MeterProvider, if set, receives the listener's metrics
	// (docs/metrics.md). Nil: none, at no cost.
	MeterProvider metric.MeterProvider
	// TracerProvider, if set, receives one span per upgrade request, its
	// parent extracted from the request's headers with
	// otel.GetTextMapPropagator(). Nil: none.
	TracerProvider trace.TracerProvider
}

// Listener is a WebSocket server: an http.Server that routes upgrade
// requests by path to attached services. It may be stopped and started
// again. Its methods are safe for concurrent use.
type Listener struct {
	port int
	cfg  ListenerConfig
	tls  *tls.Config
	obs  *obs.Set

	mu       sync.Mutex
	routes   map[string]*Handler
	detached []*Handler
	hs       *http.Server
	ln       net.Listener
	done     chan struct{}
	err      error
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
		l.tls = tc
	}
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
// sc. Paths match exactly. Attaching a path twice is an error.
func (l *Listener) Attach(p string, s UpgradeService, sc *ServiceConfig) error {
	if s == nil {
		return errors.New("websocket: nil UpgradeService")
	}
	p = cleanPath(p)
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.routes[p]; ok {
		return errors.New("websocket: a service is already attached at " + p)
	}
	h := newHandler(s, sc, l.cfg.Logger, resolveDur(l.cfg.Timeout, DefaultTimeout))
	h.noDeflate = l.cfg.DisableCompression
	h.server = l.cfg.Server
	h.cc.obs = l.obs
	l.routes[p] = h
	return nil
}

// Detach stops routing path. Its open connections are unaffected (until
// the listener stops). Detaching a path without a service is an error.
func (l *Listener) Detach(p string) error {
	p = cleanPath(p)
	l.mu.Lock()
	defer l.mu.Unlock()
	h, ok := l.routes[p]
	if !ok {
		return errors.New("Error: Cannot detach service. Service has not been registered")
	}
	delete(l.routes, p)
	l.detached = append(l.detached, h)
	return nil
}

// ServeHTTP routes a request: upgrade requests by path to the attached
// service (404 "No service found to handle the service request" for an
// unknown path), other requests to Fallback.
func (l *Listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
	upgrade := r.Header.Get("Upgrade") != ""
	switch {
	case !upgrade && l.cfg.Fallback != nil:
		l.cfg.Fallback.ServeHTTP(w, r)
	case h == nil:
		refuse(w, http.StatusNotFound, "No service found to handle the service request")
	default:
		h.ServeHTTP(w, r)
	}
}

// Start binds Host:port and serves in the background; it returns once
// bound.
func (l *Listener) Start() error {
	l.mu.Lock()
	running := l.hs != nil
	l.mu.Unlock()
	if running {
		return ErrAlreadyStarted
	}
	lc := l.cfg.ListenConfig
	if lc == nil {
		lc = &net.ListenConfig{}
	}
	ln, err := lc.Listen(context.Background(), "tcp", net.JoinHostPort(l.cfg.Host, strconv.Itoa(l.port)))
	if err != nil {
		return errors.New("failed to start the listener: " + err.Error())
	}
	if err := l.Serve(ln); err != nil {
		ln.Close()
		return err
	}
	return nil
}

// Serve serves ln in the background (a custom transport). The listener owns
// ln from now on.
func (l *Listener) Serve(ln net.Listener) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.hs != nil {
		return ErrAlreadyStarted
	}
	timeout := resolveDur(l.cfg.Timeout, DefaultTimeout)
	maxHeader := l.cfg.MaxHeaderSize
	if maxHeader <= 0 {
		maxHeader = DefaultMaxHeaderSize
	}
	hs := &http.Server{
		Handler:           l.observed(),
		ReadHeaderTimeout: timeout,
		ReadTimeout:       timeout,
		WriteTimeout:      timeout,
		IdleTimeout:       timeout,
		MaxHeaderBytes:    maxHeader,
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){}, // no HTTP/2
		ErrorLog:          slog.NewLogLogger(l.cfg.Logger.Handler(), slog.LevelDebug),
	}
	if l.tls != nil {
		ln = tls.NewListener(ln, l.tls)
	}
	for _, h := range l.handlersLocked() {
		h.mu.Lock()
		h.pausing = false
		h.mu.Unlock()
	}
	l.hs, l.ln = hs, ln
	l.obs.Bind(ln.Addr())
	done := make(chan struct{})
	l.done, l.err = done, nil
	go func() {
		err := hs.Serve(ln)
		l.mu.Lock()
		if !errors.Is(err, http.ErrServerClosed) {
			l.err = err
		}
		l.mu.Unlock()
		close(done)
	}()
	return nil
}

func (l *Listener) handlersLocked() []*Handler {
	out := make([]*Handler, 0, len(l.routes)+len(l.detached))
	for _, h := range l.routes {
		out = append(out, h)
	}
	return append(out, l.detached...)
}

// Addr returns the bound address, or nil when not listening.
func (l *Listener) Addr() net.Addr {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln == nil {
		return nil
	}
	return l.ln.Addr()
}

// Port returns the bound port, or 0.
func (l *Listener) Port() int {
	if ta, ok := l.Addr().(*net.TCPAddr); ok {
		return ta.Port
	}
	return 0
}

// Done returns a channel closed when the listener stops serving (nil
// before Start).
func (l *Listener) Done() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.done
}

// Err returns the fatal error that stopped serving, if any.
func (l *Listener) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// stopBegin detaches the http.Server and pauses the handlers.
func (l *Listener) stopBegin() (*http.Server, chan struct{}, []*Handler, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.hs == nil {
		return nil, nil, nil, ErrNotStarted
	}
	hs, done := l.hs, l.done
	l.hs, l.ln = nil, nil
	hl := l.handlersLocked()
	l.detached = nil
	for _, h := range hl {
		h.mu.Lock()
		h.pausing = true
		h.mu.Unlock()
	}
	return hs, done, hl, nil
}

// GracefulStop stops accepting, lets upgrade requests in flight finish,
// sends close 1001 to every WebSocket connection and waits for the echoes
// and the connections' ends, up to ctx. When ctx ends first, the rest are
// closed at once and ctx's error is returned. The listener may be started
// again.
func (l *Listener) GracefulStop(ctx context.Context) error {
	hs, done, handlers, err := l.stopBegin()
	if err != nil {
		return err
	}
	l.obs.Stop(obs.StopGraceful)
	if err := hs.Shutdown(ctx); err != nil {
		hs.Close()
	}
	<-done
	var first error
	for _, h := range handlers {
		if err := h.stopConns(ctx); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// ImmediateStop stops accepting and closes every connection at once.
func (l *Listener) ImmediateStop() error {
	hs, done, handlers, err := l.stopBegin()
	if err != nil {
		return err
	}
	l.obs.Stop(obs.StopImmediate)
	hs.Close()
	<-done
	for _, h := range handlers {
		h.srv.ImmediateStop()
	}
	return nil
}
