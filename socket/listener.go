package socket

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/netkit-go/netkit"
	"github.com/netkit-go/netkit/internal/engine"
	"github.com/netkit-go/netkit/internal/obs"
	"go.opentelemetry.io/otel/metric"
)

// DefaultTimeout is the read and write timeout, and the client's connect
// timeout, when a config's ReadTimeout or WriteTimeout is 0: Ballerina's
// readTimeoutInMillis default of 300000.
const DefaultTimeout = 300 * time.Second

// resolveTimeout applies the duration convention: 0 means DefaultTimeout,
// negative none (0 for the engine).
func resolveTimeout(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return DefaultTimeout
	case d < 0:
		return 0
	}
	return d
}

// ListenerConfig configures a [Listener] (Ballerina's ListenerConfig). The
// zero value, or a nil pointer, listens on every interface.
type ListenerConfig struct {
	// Interface is the local address to bind, an IP address or a host name
	// (Ballerina's interface; the Java implementation ignored it, netkit
	// honours it). If empty, every interface.
	Interface string
	// ReadTimeout bounds each wait of Caller.Read for more data (1.x
	// services); it restarts after each partial read. If 0, 300 s
	// (DefaultTimeout); negative disables it. It does not limit how long a
	// connection may stay idle between OnReadReady calls.
	ReadTimeout time.Duration
	// WriteTimeout bounds each Caller.Write, so that a peer that stops
	// reading cannot hold a writer forever. If 0, 300 s; negative disables it.
	WriteTimeout time.Duration
	// ListenConfig creates the listening socket (SO_REUSEPORT, keepalive,
	// ...). If nil, a zero net.ListenConfig.
	ListenConfig *net.ListenConfig
	// Logger receives handler panics and connection errors. If nil,
	// slog.Default().
	Logger *slog.Logger
	// Engine picks the backend that serves the connections: the event loop
	// or one goroutine per connection (netkit.Engine; the default is the
	// event loop on Linux, goroutines elsewhere). The environment variable
	// NETKIT_ENGINE overrides it. 1.x services' pull reads (Caller.Read) run on goroutines on either.
	Engine netkit.Engine
	// MeterProvider, if set, receives the listener's metrics
	// (docs/metrics.md). Nil: none, at no cost.
	MeterProvider metric.MeterProvider
}

// Listener is Ballerina's socket:Listener (and 0.990's socket:Server): it
// accepts TCP connections and serves them with its one attached [Service],
// 0.990 (push) or 1.x (pull) style. Each connection runs on its own
// goroutine, its callbacks in order, one at a time. It may be stopped and
// started again. All methods are safe for concurrent use.
type Listener struct {
	port int
	cfg  ListenerConfig
	srv  *engine.Server
	obs  *obs.Set

	mu  sync.Mutex
	svc Service
	h   callbacks
}

// NewListener returns a listener for port on cfg.Interface (port 0 picks a
// free port: see Addr after Start). It binds at Start. A nil cfg is the zero
// configuration.
func NewListener(port int, cfg *ListenerConfig) (*Listener, error) {
	if port < 0 || port > 65535 {
		return nil, &GenericError{Message: msgStartService + "invalid port " + strconv.Itoa(port)}
	}
	l := &Listener{port: port}
	if cfg != nil {
		l.cfg = *cfg
	}
	if err := engine.CheckBackend(l.cfg.Engine); err != nil {
		return nil, &GenericError{Message: msgStartService + err.Error()}
	}
	l.obs = obs.New(obs.Config{Face: obs.FaceSocket, Role: obs.RoleServer, Transport: "tcp", MeterProvider: l.cfg.MeterProvider})
	l.srv = engine.NewServer(engine.Config{
		Conn: engine.ConnConfig{
			Logger:       l.cfg.Logger,
			ReadTimeout:  resolveTimeout(l.cfg.ReadTimeout),
			WriteTimeout: resolveTimeout(l.cfg.WriteTimeout),
		},
		NewFace: l.newFace,
		Backend: l.cfg.Engine,
	})
	return l, nil
}

// Attach sets the listener's service (Ballerina's __attach; one service per
// listener, so a second Attach is [ErrServiceAttached]). svc's style and hooks are
// checked here: see [Service].
func (l *Listener) Attach(svc Service) error {
	h, err := resolve(svc)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.svc != nil {
		return ErrServiceAttached
	}
	l.svc, l.h = svc, h
	return nil
}

func (l *Listener) newFace(c *engine.Conn) engine.Face {
	l.mu.Lock()
	h := l.h
	l.mu.Unlock()
	if h.push() {
		return &pushSession{session{c: l.caller(c, modePush), h: h}}
	}
	return &pullSession{session{c: l.caller(c, modePull), h: h}}
}

// Start binds Interface:port and accepts in the background; it returns once
// bound. A bind failure is a *GenericError "unable to start the socket
// service: <cause>" (for example "...: Address already in use", matching
// syscall.EADDRINUSE). Without an attached service it is [ErrNoService];
// on a running listener [ErrAlreadyStarted].
func (l *Listener) Start() error {
	if err := l.ready(); err != nil {
		return err
	}
	addr := net.JoinHostPort(l.cfg.Interface, strconv.Itoa(l.port))
	if err := l.srv.Listen(l.cfg.ListenConfig, "tcp", addr); err != nil {
		if errors.Is(err, ErrAlreadyStarted) {
			return err
		}
		return &GenericError{Message: msgStartService + causeText(err), Cause: err}
	}
	l.obs.Bind(l.srv.Addr())
	l.srv.Logger().Debug("[ballerina/socket] started socket listener", "addr", l.Addr().String())
	return nil
}

// Serve accepts from ln in the background instead of binding (a Unix
// socket, a listener from socket activation). The listener owns ln from now
// on and closes it when stopped.
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

// Addr returns the bound address (with the real port when started with port
// 0), or nil when not listening.
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

// GracefulStop stops accepting and closes every connection gracefully: a
// running callback finishes (a Caller.Read waiting in it fails with "socket
// is already closed"), data a 0.990 service already received is still
// pushed to it, then the connection sends FIN, discards input until the
// peer's end of stream, runs OnClose (0.990) and closes. When ctx ends first
// the rest close at once and ctx's error is returned. Called from a
// callback, it does not wait for that callback's own connection.
func (l *Listener) GracefulStop(ctx context.Context) error {
	l.obs.Stop(obs.StopGraceful)
	return l.srv.GracefulStop(ctx)
}

// ImmediateStop stops accepting and closes every connection at once (0.990
// services get OnClose). It waits for the connections' goroutines, except
// the caller's own when called from a callback.
func (l *Listener) ImmediateStop() error {
	l.obs.Stop(obs.StopImmediate)
	return l.srv.ImmediateStop()
}
