package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"github.com/netkit-go/netkit/internal/goid"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/netkit-go/netkit/internal/evloop"
)

// Config configures a [Server]. Its zero value is valid.
type Config struct {
	// Conn holds the settings of each connection.
	Conn ConnConfig
	// MaxConnections pauses accepting while this many connections are open.
	// 0 means the process's open-file limit minus 64; negative means no cap.
	MaxConnections int
	// TLS, if set, makes every accepted connection a TLS server connection.
	// The handshake runs on the connection's goroutine, never the accept loop.
	TLS *tls.Config
	// HandshakeTimeout bounds the TLS handshake; <= 0 means none.
	HandshakeTimeout time.Duration
	// NewFace returns the face of an accepted connection. Required for Start
	// and Serve.
	NewFace func(c *Conn) Face
	// ConnState, if set, is told when a connection starts (after its TLS
	// handshake) and ends (after the face's Closed, before the server
	// forgets it: a stop returns only after its StateClosed calls).
	ConnState func(c *Conn, state ConnState)
	// Backend chooses the goroutine or the event-loop backend; the zero
	// value is the default (the event loop on Linux, goroutines
	// elsewhere: BackendDefault). The environment variable
	// NETKIT_ENGINE ("goroutine" or "evloop") overrides it.
	Backend Backend
	// HandshakeFailed, if set, is told of a connection whose TLS handshake
	// failed (or timed out); it is closed and never gets a face.
	HandshakeFailed func(c *Conn, err error)
}

// ConnState is a connection's lifecycle event for Config.ConnState.
type ConnState int

const (
	// StateNew: the connection was accepted or adopted.
	StateNew ConnState = iota
	// StateClosed: the connection is closed and its face was told.
	StateClosed
)

// Server accepts connections and owns every goroutine it starts. It may be
// started again after it stopped.
type Server struct {
	cfg Config

	mu       sync.Mutex
	cond     sync.Cond // signalled when a connection ends (for MaxConnections)
	running  bool
	stopping bool
	ln       net.Listener
	conns    map[*Conn]struct{}
	stop     *stopOp  // the stop in progress, or nil
	addr     net.Addr // the last bound address (kept after a stop)
	acceptWG sync.WaitGroup
	poller   *evloop.Poller // the event-loop backend's, while running
	// pconns counts each poller's connections (the server's own, and
	// those of pollers from before a stop, which close at their last).
	pconns map[*evloop.Poller]int
	done   chan struct{}
	err    error
}

// NewServer returns a server with cfg.
func NewServer(cfg Config) *Server {
	if cfg.Conn.Logger == nil {
		cfg.Conn.Logger = slog.Default()
	}
	if cfg.MaxConnections == 0 {
		cfg.MaxConnections = defaultMaxConnections()
	}
	cfg.Backend = resolveBackend(cfg.Backend)
	s := &Server{cfg: cfg, conns: make(map[*Conn]struct{})}
	s.cond.L = &s.mu
	return s
}

// Logger returns the server's logger.
func (s *Server) Logger() *slog.Logger { return s.cfg.Conn.Logger }

// Listen binds network/address with lc (nil for defaults) and serves it in
// the background. It returns once bound.
func (s *Server) Listen(lc *net.ListenConfig, network, address string) error {
	s.mu.Lock()
	running := s.running || s.stop != nil
	s.mu.Unlock()
	if running {
		return ErrAlreadyStarted
	}
	if lc == nil {
		lc = &net.ListenConfig{}
	}
	ln, err := inheritKeepAlive(lc, network).Listen(context.Background(), network, address)
	if err != nil {
		return err
	}
	if err := s.serve(ln); err != nil {
		ln.Close()
		return err
	}
	return nil
}

// Serve serves ln in the background. The server owns ln from now on and
// closes it when stopped.
func (s *Server) Serve(ln net.Listener) error { return s.serve(ln) }

func (s *Server) serve(ln net.Listener) error {
	if s.cfg.NewFace == nil {
		return errors.New("engine: Config.NewFace is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running || s.stop != nil {
		return ErrAlreadyStarted
	}
	s.running, s.stopping, s.err = true, false, nil
	if s.cfg.Backend == BackendEventLoop && s.cfg.TLS == nil && evloop.Supported {
		p, err := evloop.New(evloop.Config{Logger: s.cfg.Conn.Logger})
		if err != nil {
			s.cfg.Conn.Logger.Warn("netkit: no event loop; serving with goroutines", "err", err)
		}
		s.poller = p
	}
	s.ln = ln
	s.addr = ln.Addr()
	s.done = make(chan struct{})
	s.acceptWG.Add(1)
	go s.acceptLoop(ln, s.done)
	return nil
}

// Addr returns the bound address. After a stop it is still the address the
// server was bound to; it is nil only before the first start.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Done returns a channel closed when the server stops serving: after a stop
// or a fatal accept error (see Err). It is nil before the first start.
func (s *Server) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done
}

// Err returns the fatal accept error that stopped the server, if any.
func (s *Server) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *Server) acceptLoop(ln net.Listener, done chan struct{}) {
	defer s.acceptWG.Done()
	var delay time.Duration
	for {
		s.mu.Lock()
		for !s.stopping && s.cfg.MaxConnections > 0 && len(s.conns) >= s.cfg.MaxConnections {
			s.cond.Wait()
		}
		stopping := s.stopping
		s.mu.Unlock()
		if stopping {
			return
		}
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			stopping := s.stopping
			s.mu.Unlock()
			if stopping {
				return
			}
			if transientAcceptError(err) {
				if delay == 0 {
					delay = 5 * time.Millisecond
				} else if delay *= 2; delay > time.Second {
					delay = time.Second
				}
				s.cfg.Conn.Logger.Warn("netkit: accept error; retrying", "err", err, "delay", delay)
				t := time.NewTimer(delay)
				select {
				case <-t.C:
				case <-done:
					t.Stop()
					return
				}
				continue
			}
			s.mu.Lock()
			var idle *evloop.Poller
			if !s.stopping {
				s.err = err
				s.running = false
				s.ln = nil
				ln.Close()
				close(done)
				idle = s.retirePoller()
			}
			s.mu.Unlock()
			if idle != nil {
				closePoller(idle)
			}
			return
		}
		delay = 0
		s.Adopt(nc, nil)
	}
}

// transientAcceptError reports accept errors worth retrying after a pause:
// running out of descriptors or memory, and aborted handshakes.
func transientAcceptError(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
		syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EINTR, syscall.EAGAIN, syscall.EPROTO, syscall.EPERM} {
		if errors.Is(err, e) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Adopt takes over nc: the server tracks it and runs face (or, if face is
// nil, Config.NewFace's) on a new goroutine. If the server has a TLS config
// and nc is not already a *tls.Conn, the TLS handshake runs first on that
// goroutine. It returns nil if the server is stopping (nc is then closed).
func (s *Server) Adopt(nc net.Conn, face Face) *Conn { return s.adopt(nc, face, nil) }

func (s *Server) adopt(nc net.Conn, face Face, buffered []byte) *Conn {
	if s.cfg.TLS != nil {
		if _, isTLS := nc.(*tls.Conn); !isTLS {
			nc = tls.Server(nc, s.cfg.TLS)
		}
	}
	c := NewConn(nc, s.cfg.Conn)
	c.server = s
	c.face = face
	c.SetBuffered(buffered)
	c.done = make(chan struct{})
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		nc.Close()
		return nil
	}
	s.conns[c] = struct{}{}
	p := s.poller
	if p != nil {
		// Counted now, so that the poller outlives this connection
		// whichever backend serves it (forget drops the count).
		c.pl = p
		if s.pconns == nil {
			s.pconns = make(map[*evloop.Poller]int)
		}
		s.pconns[p]++
	}
	s.mu.Unlock()
	go s.start(c, p)
	return c
}

// Start runs face on a connection made by NewConn, without a server: the
// loop of a callback-mode client. Call it at most once.
func (c *Conn) Start(face Face) {
	c.face = face
	c.done = make(chan struct{})
	go c.run()
}

func (s *Server) start(c *Conn, p *evloop.Poller) {
	if !s.begin(c) {
		return
	}
	if f, ok := c.face.(StreamFace); ok && p != nil {
		// The event-loop backend: Open here, then the poller serves it.
		c.goid.Store(goid.Current())
		if !c.open(f) {
			c.finish(errNoClosed) // Config.ConnState's StateClosed runs in finish
			close(c.done)
			return
		}
		if c.serveOnPoller(p, f) {
			return
		}
		c.opened = true // the goroutine loop goes on without Open
	}
	c.run() // Config.ConnState's StateClosed runs in finish, before forget
}

// begin runs the TLS handshake and makes the face. It is not inlined, so
// that its frame is not part of the parked goroutine's stack.
//
//go:noinline
func (s *Server) begin(c *Conn) bool {
	if tc, isTLS := c.nc.(*tls.Conn); isTLS {
		if err := handshake(tc, s.cfg.HandshakeTimeout); err != nil {
			s.cfg.Conn.Logger.Debug("netkit: TLS handshake failed", "remote", c.nc.RemoteAddr().String(), "err", err)
			if s.cfg.HandshakeFailed != nil {
				s.cfg.HandshakeFailed(c, err)
			}
			c.Close(err)
			close(c.done)
			s.forget(c)
			return false
		}
	}
	if c.face == nil {
		c.face = s.cfg.NewFace(c)
	}
	if s.cfg.ConnState != nil {
		s.cfg.ConnState(c, StateNew)
	}
	return true
}

func handshake(tc *tls.Conn, timeout time.Duration) error {
	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return tc.HandshakeContext(ctx)
}

// retirePoller detaches the server's poller as the server stops serving.
// It returns the poller if it has no connection left, for the caller to
// close without s.mu; otherwise its last connection closes it (forget).
// s.mu is held.
func (s *Server) retirePoller() *evloop.Poller {
	p := s.poller
	if p == nil {
		return nil
	}
	s.poller = nil
	if s.pconns[p] > 0 {
		return nil
	}
	return p
}

// closePoller closes a poller that has no connection of ours left (their
// last callbacks may still be returning: bounded by ImmediateStopWait).
func closePoller(p *evloop.Poller) {
	ctx, cancel := context.WithTimeout(context.Background(), ImmediateStopWait)
	defer cancel()
	p.Close(ctx)
}

func (s *Server) forget(c *Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.cond.Broadcast()
	var retired *evloop.Poller
	if p := c.pl; p != nil {
		if s.pconns[p]--; s.pconns[p] == 0 {
			delete(s.pconns, p)
			if p != s.poller {
				retired = p
			}
		}
	}
	s.mu.Unlock()
	if retired != nil {
		// The last connection of a stopped server's poller: close it. From
		// its own callback, Close does not wait for that connection.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		retired.Close(ctx)
	}
}

// Len returns the number of open connections.
func (s *Server) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// ImmediateStopWait bounds how long ImmediateStop (and a GracefulStop whose
// ctx ended, for the connections it force-closes) waits for callbacks to
// return once their sockets are closed. A callback that does not return by
// then (stuck on something other than its connection) is not awaited: its
// connection leaves the server when it finally returns.
const ImmediateStopWait = time.Second

// stopOp is a stop in progress. Stops that begin while it runs join it.
type stopOp struct {
	conns []*Conn
	done  chan struct{} // closed when the stop has finished
}

// beginStop marks the server stopping, closes its listener and returns the
// stop in progress: first is true for the caller that began it (it must
// call endStop), false for one that joins it. ok is false if the server was
// not running, has no connections and no stop is in progress.
func (s *Server) beginStop() (op *stopOp, first, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		return s.stop, false, true
	}
	if !s.running && len(s.conns) == 0 {
		return nil, false, false
	}
	s.stopping = true
	s.cond.Broadcast()
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
	}
	op = &stopOp{done: make(chan struct{}), conns: make([]*Conn, 0, len(s.conns))}
	for c := range s.conns {
		op.conns = append(op.conns, c)
	}
	s.stop = op
	return op, true, true
}

func (s *Server) endStop(op *stopOp) {
	s.acceptWG.Wait() // the listener is closed: the accept loop ends at once
	s.mu.Lock()
	if p := s.retirePoller(); p != nil {
		s.mu.Unlock()
		closePoller(p)
		s.mu.Lock()
	}
	if s.running {
		s.running = false
		close(s.done)
	}
	s.stopping = false
	s.stop = nil
	s.mu.Unlock()
	close(op.done)
}

// onLoopOf reports whether the calling goroutine is the loop of one of
// conns (a stop called from a callback), and which.
func onLoopOf(conns []*Conn) (self *Conn) {
	g := goid.Current()
	for _, c := range conns {
		if c.goid.Load() == g {
			return c
		}
	}
	return nil
}

// GracefulStop stops accepting, cancels every connection's context with
// cause ErrListenerStopping and closes each gracefully: its running
// callback finishes and its writes go out, data already received is still
// handed to its face, then the face's [GracefulFace] hook (if any) runs on
// the connection's goroutine, or its write side is shut down and it lingers
// for the peer's EOF. It returns nil when every connection has ended. When
// ctx ends first, the rest are closed at once (their Closed callbacks run
// after GracefulStop returned) and ctx's error is returned: GracefulStop
// returns by ctx's deadline.
//
// Called from one of the server's callbacks, it does not wait for that
// connection, which closes when the callback returns. A stop that begins
// while another is in progress joins it: it waits (bounded by its own ctx)
// for that stop to finish, without waiting at all when called from a
// callback, so that two callbacks stopping the server at once cannot wait
// for each other.
func (s *Server) GracefulStop(ctx context.Context) error {
	op, first, ok := s.beginStop()
	if !ok {
		return ErrNotStarted
	}
	if !first {
		return s.join(ctx, op, false)
	}
	defer s.endStop(op)
	for _, c := range op.conns {
		c.Shutdown(ErrListenerStopping)
	}
	self := onLoopOf(op.conns)
	for _, c := range op.conns {
		if c == self {
			continue
		}
		select {
		case <-c.done:
		case <-ctx.Done():
			for _, c := range op.conns {
				c.Close(ErrListenerStopped)
			}
			return ctx.Err()
		}
	}
	return nil
}

// ImmediateStop stops accepting and closes every connection's socket at
// once (their faces are told, with cause ErrListenerStopped). It waits for
// their goroutines to finish, except the caller's own if called from a
// callback, for at most ImmediateStopWait: a callback that does not return
// once its socket is closed is not awaited. A stop in progress is joined:
// its connections are closed at once and ImmediateStop waits (as above) for
// it to finish, or not at all from a callback.
func (s *Server) ImmediateStop() error {
	op, first, ok := s.beginStop()
	if !ok {
		return ErrNotStarted
	}
	if !first {
		return s.join(nil, op, true)
	}
	defer s.endStop(op)
	for _, c := range op.conns {
		c.Close(ErrListenerStopped)
	}
	s.awaitClosed(op.conns, onLoopOf(op.conns))
	return nil
}

// join makes a second stop wait for the one in progress: bounded by ctx
// (a graceful stop) or, after closing its connections, by
// ImmediateStopWait (an immediate one). From a callback it does not wait.
func (s *Server) join(ctx context.Context, op *stopOp, immediate bool) error {
	if immediate {
		for _, c := range op.conns {
			c.Close(ErrListenerStopped)
		}
	}
	if onLoopOf(op.conns) != nil {
		return nil
	}
	var wait <-chan struct{}
	if ctx != nil {
		wait = ctx.Done()
	}
	var timeout <-chan time.Time
	if immediate {
		t := time.NewTimer(ImmediateStopWait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-op.done:
		return nil
	case <-wait:
		return ctx.Err()
	case <-timeout:
		return nil
	}
}

// awaitClosed waits for the (closed) conns other than self to finish, for at
// most ImmediateStopWait in all.
func (s *Server) awaitClosed(conns []*Conn, self *Conn) {
	t := time.NewTimer(ImmediateStopWait)
	defer t.Stop()
	for _, c := range conns {
		if c == self {
			continue
		}
		select {
		case <-c.done:
		case <-t.C:
			s.cfg.Conn.Logger.Warn("netkit: stop did not wait for callbacks that do not return", "left", s.Len())
			return
		}
	}
}

// Full reports whether the server holds MaxConnections connections: a face
// that hands connections to Adopt (an HTTP upgrade) refuses them then.
func (s *Server) Full() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.MaxConnections > 0 && len(s.conns) >= s.cfg.MaxConnections
}
