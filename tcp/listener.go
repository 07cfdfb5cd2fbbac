package tcp

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/netkit-go/netkit"
	"github.com/netkit-go/netkit/internal/engine"
	"github.com/netkit-go/netkit/internal/obs"
	"github.com/netkit-go/netkit/internal/tlsconf"
	"github.com/netkit-go/netkit/tlsconfig"
)

// DefaultListenerWriteTimeout is the listener's write timeout when
// ListenerConfig.WriteTimeout is 0.
const DefaultListenerWriteTimeout = 30 * time.Second

// ListenerConfig configures a [Listener]. The zero value (or nil) listens on
// every interface without TLS.
type ListenerConfig struct {
	// LocalHost is the address to bind (a host name or IP). If empty, every
	// interface.
	LocalHost string
	// SecureSocket enables TLS. The handshake runs on each connection's
	// goroutine, bounded by its HandshakeTimeout (default 10 s).
	SecureSocket *tlsconfig.ListenerSecureSocket
	// TLSConfig is a base TLS configuration (for example with GetCertificate
	// for certificate rotation). It is cloned and SecureSocket's fields are
	// applied on top. Setting it without SecureSocket enables TLS too.
	TLSConfig *tls.Config
	// ListenConfig binds the socket (SO_REUSEPORT, keepalive, ...). If nil,
	// the defaults of net.ListenConfig are used.
	ListenConfig *net.ListenConfig
	// Logger receives handler errors and panics. If nil, slog.Default().
	Logger *slog.Logger
	// MaxConnections pauses accepting while this many connections are open.
	// If 0, the process's open-file limit minus 64; negative means no cap.
	MaxConnections int
	// MaxPendingWrites caps the writers waiting on one connection; one more
	// gets ErrSendQueueFull. If 0, 64.
	MaxPendingWrites int
	// WriteTimeout bounds each write to a connection, so that a peer that
	// stops reading cannot hold a writer forever. If 0, 30 s; negative
	// disables it.
	WriteTimeout time.Duration
	// CloseTimeout bounds how long Caller.Close waits for the peer's EOF after
	// shutting down the write side. If 0, 5 s.
	CloseTimeout time.Duration
	// IdleTimeout closes a connection (gracefully: FIN, linger, OnClose)
	// when nothing was read from it for this long. If 0 or negative, none
	// (the default, as in Ballerina).
	IdleTimeout time.Duration
	// AllowHalfClose keeps a connection open for writing after the peer's
	// EOF, until Caller.Close. By default the peer's EOF ends the connection:
	// OnClose runs and the socket is closed.
	AllowHalfClose bool
	// Engine picks the backend that serves the connections: the event loop
	// or one goroutine per connection (netkit.Engine; the default is the
	// event loop on Linux, goroutines elsewhere). The environment variable
	// NETKIT_ENGINE overrides it. TLS connections run on goroutines on either.
	Engine netkit.Engine
	// MeterProvider, if set, receives the listener's metrics
	// (docs/metrics.md). Nil: none, at no cost.
	MeterProvider metric.MeterProvider
}

// Listener accepts TCP connections and dispatches them to its [Service].
// It may be stopped and started again. All methods are safe for concurrent use.
type Listener struct {
	port int
	cfg  ListenerConfig
	tls  *tls.Config
	srv  *engine.Server
	obs  *obs.Set

	mu  sync.Mutex
	svc Service
}

// NewListener returns a listener for localPort (0 picks a free port; Addr
// reports it after Start). It binds at Start. A TLS configuration error is
// reported here, with Ballerina's messages.
func NewListener(localPort int, cfg *ListenerConfig) (*Listener, error) {
	if localPort < 0 || localPort > 65535 {
		return nil, &Error{Op: "listen", Err: errors.New("invalid port " + strconv.Itoa(localPort))}
	}
	l := &Listener{port: localPort}
	if cfg != nil {
		l.cfg = *cfg
	}
	if l.cfg.SecureSocket != nil || l.cfg.TLSConfig != nil {
		tc, err := tlsconf.ServerConfig(l.cfg.SecureSocket, l.cfg.TLSConfig)
		if err != nil {
			return nil, &Error{Op: "tls", Err: err}
		}
		l.tls = tc
	}
	if err := engine.CheckBackend(l.cfg.Engine); err != nil {
		return nil, &Error{Op: "listen", Err: err}
	}
	l.obs = obs.New(obs.Config{Face: obs.FaceTCP, Role: obs.RoleServer, Transport: "tcp", MeterProvider: l.cfg.MeterProvider})
	var hs time.Duration
	if l.cfg.SecureSocket != nil {
		hs = tlsconf.HandshakeTimeout(l.cfg.SecureSocket.HandshakeTimeout)
	} else {
		hs = tlsconf.HandshakeTimeout(0)
	}
	l.srv = engine.NewServer(engine.Config{
		Conn: engine.ConnConfig{
			Logger:           l.cfg.Logger,
			MaxPendingWrites: l.cfg.MaxPendingWrites,
			WriteTimeout:     resolve(l.cfg.WriteTimeout, DefaultListenerWriteTimeout),
			Linger:           l.cfg.CloseTimeout,
			AllowHalfClose:   l.cfg.AllowHalfClose,
		},
		MaxConnections:   l.cfg.MaxConnections,
		Backend:          l.cfg.Engine,
		TLS:              l.tls,
		HandshakeTimeout: hs,
		NewFace:          l.newFace,
		HandshakeFailed:  func(*engine.Conn, error) { l.obs.Error(obs.KindTLS) },
	})
	return l, nil
}

// resolve applies the duration convention: 0 means def, negative none (0).
func resolve(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

func (l *Listener) newFace(c *engine.Conn) engine.Face {
	l.mu.Lock()
	svc := l.svc
	l.mu.Unlock()
	s := &session{connect: svc, idle: max(l.cfg.IdleTimeout, 0)}
	s.conn, s.obs = c, l.obs
	if svc == nil {
		s.connect = ServiceFunc(func(*Caller) (ConnectionService, error) { return nil, ErrNoService })
	}
	return s
}

// Attach sets the service for connections accepted from now on. A listener
// has one service: attaching a second is [ErrServiceAttached] (Detach, then
// Attach, replaces it; running connections keep theirs). A Service with a
// method named On* other than OnConnect is an error, as is a nil service.
func (l *Listener) Attach(s Service) error {
	if s == nil {
		return errors.New("tcp: nil service")
	}
	if err := serviceHooks.Check(s); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.svc != nil {
		return ErrServiceAttached
	}
	l.svc = s
	return nil
}

// Detach removes the attached service. Running connections keep theirs. It
// is an error if none is attached.
func (l *Listener) Detach() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.svc == nil {
		return errors.New("tcp: service is not attached to the listener")
	}
	l.svc = nil
	return nil
}

// Start binds LocalHost:port and accepts in the background. It returns once
// bound. Starting a running listener is ErrAlreadyStarted; a port in use is
// an *Error matching syscall.EADDRINUSE.
func (l *Listener) Start() error {
	if err := l.ready(); err != nil {
		return err
	}
	addr := net.JoinHostPort(l.cfg.LocalHost, strconv.Itoa(l.port))
	if err := l.srv.Listen(l.cfg.ListenConfig, "tcp", addr); err != nil {
		if errors.Is(err, ErrAlreadyStarted) {
			return err
		}
		return &Error{Op: "start", Err: err}
	}
	l.obs.Bind(l.srv.Addr())
	return nil
}

// Serve accepts from ln in the background (a custom transport: a Unix
// socket, an in-memory listener, a listener from socket activation). The
// listener owns ln from now on and closes it when stopped.
func (l *Listener) Serve(ln net.Listener) error {
	if err := l.ready(); err != nil {
		return err
	}
	l.obs.Bind(ln.Addr())
	return l.srv.Serve(ln)
}

func (l *Listener) ready() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.svc == nil {
		return ErrNoService
	}
	return nil
}

// Addr returns the bound address (with the real port when started with
// port 0), or nil when not listening.
func (l *Listener) Addr() net.Addr { return l.srv.Addr() }

// Port returns the bound port, or 0 when not listening.
func (l *Listener) Port() int {
	if ta, ok := l.Addr().(*net.TCPAddr); ok {
		return ta.Port
	}
	return 0
}

// Done returns a channel closed when the listener stops serving: after a
// stop or a fatal accept error (see Err).
func (l *Listener) Done() <-chan struct{} { return l.srv.Done() }

// Err returns the fatal accept error that stopped the listener, if any.
func (l *Listener) Err() error { return l.srv.Err() }

// GracefulStop stops accepting, cancels every connection's context with
// cause ErrListenerStopping and closes each gracefully: its running callback
// and reply finish, data it already received is still served, then it sends
// FIN, discards input until the peer's EOF, runs OnClose and closes. When ctx
// ends first the rest are closed at once and ctx's error is returned. Called
// from a callback, it does not wait for that callback's connection.
func (l *Listener) GracefulStop(ctx context.Context) error {
	l.obs.Stop(obs.StopGraceful)
	return l.srv.GracefulStop(ctx)
}

// ImmediateStop stops accepting and closes every connection at once; their
// OnClose runs. It waits for the connections' goroutines (but not the
// caller's own, when called from a callback).
func (l *Listener) ImmediateStop() error {
	l.obs.Stop(obs.StopImmediate)
	return l.srv.ImmediateStop()
}
