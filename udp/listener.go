package udp

import (
	"context"
	"errors"
	"fmt"
	"github.com/netkit-go/netkit/internal/obs"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Listener receives datagrams on a local port and dispatches each to the
// attached [Service] (Ballerina's udp:Listener).
//
// Lifecycle: NewListener → Attach → Start (or Serve) → GracefulStop or
// ImmediateStop → Start again if wanted. All methods are safe for concurrent
// use, and the stop methods may be called from a handler.
type Listener struct {
	port   int
	cfg    ListenerConfig
	opts   sockOpts
	log    *slog.Logger
	batch  int
	queue  int
	remote bool

	h atomic.Pointer[handler]

	mu  sync.Mutex // guards run
	run *run       // the current or last run; nil before the first Start

	stats struct {
		received, dropped, truncated, errors atomic.Uint64
	}
}

// Stats are a listener's counters since it was created.
type Stats struct {
	// Received counts datagrams read from the socket.
	Received uint64
	// Dropped counts datagrams discarded because a worker's queue was full
	// or no service was attached.
	Dropped uint64
	// Truncated counts datagrams larger than ReceiveBufferSize.
	Truncated uint64
	// Errors counts handler errors, recovered panics and failed sends.
	Errors uint64
}

// NewListener returns a listener for localPort (0: any free port, see
// [Listener.Addr]). It checks cfg but binds nothing; a nil cfg is the zero
// configuration. Setting only one of RemoteHost and RemotePort is
// [ErrRemoteIncomplete].
func NewListener(localPort int, cfg *ListenerConfig) (*Listener, error) {
	if cfg == nil {
		cfg = &ListenerConfig{}
	}
	if localPort < 0 || localPort > 65535 {
		return nil, fmt.Errorf("udp: invalid port %d", localPort)
	}
	if (cfg.RemoteHost == "") != (cfg.RemotePort == 0) {
		return nil, ErrRemoteIncomplete
	}
	if cfg.RemotePort < 0 || cfg.RemotePort > 65535 {
		return nil, fmt.Errorf("udp: invalid remote port %d", cfg.RemotePort)
	}
	opts, err := resolveSockOpts(0, cfg.MaxDatagramSize, cfg.ReceiveBufferSize)
	if err != nil {
		return nil, err
	}
	opts.obs = obs.New(obs.Config{Face: obs.FaceUDP, Role: obs.RoleServer, Transport: "udp", MeterProvider: cfg.MeterProvider})
	l := &Listener{port: localPort, cfg: *cfg, opts: opts, remote: cfg.RemoteHost != ""}
	l.cfg.MulticastGroups = append([]netip.Addr(nil), cfg.MulticastGroups...)
	l.log = cfg.Logger
	if l.log == nil {
		l.log = slog.Default()
	}
	l.queue = cfg.QueueSize
	if l.queue <= 0 {
		l.queue = DefaultQueueSize
	}
	l.batch = cfg.BatchSize
	if l.batch == 0 {
		l.batch = min(DefaultBatchSize, max(1, batchBudget/opts.recvSize))
	}
	l.batch = max(l.batch, 1)
	return l, nil
}

// Attach sets the listener's service. The service's hooks are resolved
// here, once: a service with both OnBytes and OnDatagram is
// [ErrBothHandlers], one with neither [ErrNoHandler], and a method named
// On* that matches no hook is an error. A listener has one service:
// attaching a second is [ErrServiceAttached]. Attach may be called while
// the listener runs.
func (l *Listener) Attach(s Service) error {
	h, err := resolveService(s)
	if err != nil {
		return err
	}
	if !l.h.CompareAndSwap(nil, h) {
		return ErrServiceAttached
	}
	return nil
}

// Detach removes the attached service; with none attached it returns
// [ErrServiceNotAttached] ("service is not attached to the listener"). On a
// running listener, datagrams arriving without a service are dropped and
// counted in Stats.Dropped.
func (l *Listener) Detach() error {
	if l.h.Swap(nil) == nil {
		return ErrServiceNotAttached
	}
	return nil
}

// Start binds the socket (LocalHost, the port; connected to RemoteHost and
// RemotePort if set; multicast groups joined) and starts receiving. It
// returns once bound. Starting a running listener is [ErrAlreadyStarted];
// starting without a service is [ErrServiceNotAttached]. Bind errors are
// [*Error]s with Ballerina's message "Unable to initialize UDP Listener".
func (l *Listener) Start() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.startableLocked(); err != nil {
		return err
	}
	pc, err := l.bind()
	if err != nil {
		return &Error{Op: "listen", Msg: msgListen, Err: err}
	}
	l.opts.obs.Bind(pc.LocalAddr())
	l.run = newRun(l, pc)
	l.run.start()
	return nil
}

// Serve runs the listener on pc, a socket the caller created, until the
// listener stops, and takes ownership of pc (it is closed at the end). A
// *net.UDPConn gets the fast path (batched on Linux, no allocation per
// datagram) and joins MulticastGroups; other PacketConns are served by a
// portable loop that allocates what their ReadFrom and WriteTo allocate.
// LocalHost, RemoteHost and RemotePort are ignored: a connected *net.UDPConn
// makes a connected listener. Serve returns nil after GracefulStop or
// ImmediateStop, and the error that ended the loop otherwise.
func (l *Listener) Serve(pc net.PacketConn) error {
	l.mu.Lock()
	if err := l.startableLocked(); err != nil {
		l.mu.Unlock()
		return err
	}
	if pc == nil {
		l.mu.Unlock()
		return errors.New("udp: Serve with a nil PacketConn")
	}
	if uc, ok := pc.(*net.UDPConn); ok {
		if err := joinGroups(uc, l.cfg.MulticastGroups, l.cfg.MulticastInterface); err != nil {
			l.mu.Unlock()
			return &Error{Op: "serve", Msg: msgListen, Err: err}
		}
	}
	l.opts.obs.Bind(pc.LocalAddr())
	r := newRun(l, pc)
	l.run = r
	r.start()
	l.mu.Unlock()
	<-r.done
	return r.err
}

func (l *Listener) startableLocked() error {
	if r := l.run; r != nil && !r.stopReq.Load() {
		select {
		case <-r.done: // ended by a fatal error
		default:
			return ErrAlreadyStarted
		}
	}
	if l.h.Load() == nil {
		return ErrServiceNotAttached
	}
	return nil
}

func (l *Listener) bind() (*net.UDPConn, error) {
	ctx := context.Background()
	laddr, err := localUDPAddr(ctx, l.cfg.LocalHost, l.port)
	if err != nil {
		return nil, err
	}
	network := "udp"
	if l.cfg.LocalHost == "" && len(l.cfg.MulticastGroups) > 0 {
		network = groupNetwork(l.cfg.MulticastGroups)
	}
	lc := l.cfg.ListenConfig
	if lc == nil {
		lc = &net.ListenConfig{}
	}
	var uc *net.UDPConn
	if l.remote {
		raddr, err := resolveAddr(ctx, l.cfg.RemoteHost, l.cfg.RemotePort)
		if err != nil {
			return nil, err
		}
		d := net.Dialer{LocalAddr: laddr, Control: lc.Control}
		nc, err := d.DialContext(ctx, network, raddr.String())
		if err != nil {
			return nil, err
		}
		var ok bool
		if uc, ok = nc.(*net.UDPConn); !ok {
			nc.Close()
			return nil, errors.New("udp: dialer did not return a *net.UDPConn")
		}
	} else {
		pc, err := lc.ListenPacket(ctx, network, laddr.String())
		if err != nil {
			return nil, err
		}
		var ok bool
		if uc, ok = pc.(*net.UDPConn); !ok {
			pc.Close()
			return nil, errors.New("udp: ListenConfig did not return a *net.UDPConn")
		}
	}
	if err := joinGroups(uc, l.cfg.MulticastGroups, l.cfg.MulticastInterface); err != nil {
		uc.Close()
		return nil, err
	}
	return uc, nil
}

func (l *Listener) current() *run {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.run
}

// GracefulStop stops receiving, lets the handlers finish the datagrams
// already received (including those queued for workers) and send their
// replies, then closes the socket. It returns nil when all is done. If ctx
// ends first, the rest is dropped as by ImmediateStop and ctx.Err() is
// returned. Called from a handler, it does not wait (see Done). Stopping a
// listener that is not running returns nil.
func (l *Listener) GracefulStop(ctx context.Context) error {
	r := l.current()
	if r == nil {
		return nil
	}
	l.opts.obs.Stop(obs.StopGraceful)
	r.requestStop(false)
	if r.onOwnGoroutine() {
		return nil
	}
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		r.requestStop(true)
		return ctx.Err()
	}
}

// ImmediateStop closes the socket at once: the read loop ends, datagrams
// queued for workers are dropped, and sends through Callers fail with
// net.ErrClosed. Handlers already running finish; ImmediateStop does not
// wait for them (Done is closed when they have). It returns nil, also when
// the listener is not running.
func (l *Listener) ImmediateStop() error {
	if r := l.current(); r != nil {
		l.opts.obs.Stop(obs.StopImmediate)
		r.requestStop(true)
	}
	return nil
}

// Addr returns the local address of the running (or last) socket, with the
// port chosen for port 0; nil before the first Start.
func (l *Listener) Addr() net.Addr {
	if r := l.current(); r != nil {
		return r.pc.LocalAddr()
	}
	return nil
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Done returns a channel closed when the current run has ended: after a
// stop, once the read loop and every handler have returned and the socket
// is closed, or after a fatal error (see Err). Call it after Start; before
// the first Start it returns a closed channel.
func (l *Listener) Done() <-chan struct{} {
	if r := l.current(); r != nil {
		return r.done
	}
	return closedChan
}

// Err returns the error that ended the last run on its own (for example its
// socket closed by someone else); nil while running and after a requested
// stop.
func (l *Listener) Err() error {
	r := l.current()
	if r == nil {
		return nil
	}
	select {
	case <-r.done:
		return r.err
	default:
		return nil
	}
}

// Stats returns the listener's counters.
func (l *Listener) Stats() Stats {
	return Stats{
		Received:  l.stats.received.Load(),
		Dropped:   l.stats.dropped.Load(),
		Truncated: l.stats.truncated.Load(),
		Errors:    l.stats.errors.Load(),
	}
}
