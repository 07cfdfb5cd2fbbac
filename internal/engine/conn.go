package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"github.com/netkit-go/netkit/internal/goid"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/netkit-go/netkit/internal/evloop"
)

// Face is what the engine drives for one connection: a [StreamFace] or a
// [ConnFace].
type Face interface{}

// StreamFace is pushed the bytes of a connection. Its methods run on the
// connection's goroutine, one at a time.
type StreamFace interface {
	// Open runs before the first read. An error closes the connection at
	// once, and Closed is not called.
	Open(c *Conn) error
	// Data is handed the bytes read so far that earlier calls did not
	// consume. p is borrowed until Data returns. Data returns how many bytes
	// it consumed; the rest are handed to it again, with more, on the next
	// call. A non-nil error closes the connection at once (Closed follows);
	// [ErrCloseGracefully] closes it gracefully instead.
	Data(c *Conn, p []byte) (consumed int, err error)
	// Closed runs once, after the socket is closed. err is nil or io.EOF
	// after an orderly close, and otherwise why the connection ended.
	Closed(c *Conn, err error)
}

// ConnFace owns its connection's loop: Serve runs on the connection's
// goroutine and pulls with [Conn.Read]. When Serve returns, the engine
// closes the connection gracefully, or, after [Conn.Become], goes on with
// the next face and cancels the context [Conn.Context] returned during
// Serve (the next call makes a new one): it ends with Serve, as an HTTP
// request's ends with its handler.
type ConnFace interface {
	Serve(c *Conn)
}

// GracefulFace is an optional extension of a [StreamFace] whose protocol
// says goodbye on its own (WebSocket's close 1001). When the connection's
// server stops gracefully, the engine lets the running callback finish,
// hands the face the data that already arrived, then calls Stopping on the
// connection's goroutine, never concurrently with another callback.
// Returning nil keeps the connection reading and dispatching (the face ends
// it by returning ErrCloseGracefully or an error from Data or Timer, and the
// stop's ctx bounds the wait); ErrCloseGracefully asks for the engine's own
// graceful close; another error closes at once.
type GracefulFace interface {
	Stopping(c *Conn) error
}

// ErrAwaitPeerClose, returned by [StreamFace.Data] or [TimerFace.Timer], is
// the graceful close of a side that must not close first (a WebSocket
// client after echoing the server's close, RFC 6455 §7.1.1): the write side
// stays open, input is discarded until the peer's EOF or the linger
// deadline, then the socket is closed.
var ErrAwaitPeerClose = errors.New("netkit: close after the peer")

// ErrCloseGracefully, returned by [StreamFace.Data], asks for the graceful
// close: close-write, linger until the peer's EOF, then Closed.
var ErrCloseGracefully = errors.New("netkit: close gracefully")

// ConnConfig holds the per-connection settings. Values here are resolved:
// faces apply their documented defaults before handing them to the engine.
type ConnConfig struct {
	// Logger receives panics and connection errors. Nil means slog.Default().
	Logger *slog.Logger
	// MaxPendingWrites caps the writers waiting for the write lock; <= 0
	// means 64.
	MaxPendingWrites int
	// WriteTimeout bounds each write; <= 0 means none.
	WriteTimeout time.Duration
	// ReadTimeout bounds each Conn.Read (pull reads); <= 0 means none.
	ReadTimeout time.Duration
	// Linger bounds how long a graceful close waits for the peer's EOF after
	// closing the write side; <= 0 means 5 s.
	Linger time.Duration
	// AllowHalfClose keeps the connection writable after the peer's EOF
	// until the face closes it.
	AllowHalfClose bool
}

// DefaultLinger is the graceful-close wait when ConnConfig.Linger is 0.
const DefaultLinger = 5 * time.Second

// DefaultMaxPendingWrites is the write-queue cap when ConnConfig.MaxPendingWrites is 0.
const DefaultMaxPendingWrites = 64

const (
	stateOpen int32 = iota
	stateGraceful
	stateClosed
)

var connIDs atomic.Uint64

// aLongTimeAgo is a deadline in the past, used to wake blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

// Conn is one connection driven by the engine. Its write methods and Close
// are safe for concurrent use; Read is for the connection's owner.
type Conn struct {
	nc     net.Conn
	rc     syscall.RawConn // nil if the conn cannot wait without a buffer
	cfg    ConnConfig
	id     uint64
	face   Face
	server *Server // nil for a standalone connection
	goid   atomic.Uint64

	wlock   chan struct{}
	waiting atomic.Int32
	wdl     bool // a write deadline is set (under wlock)
	wclosed bool // write side shut down (under wlock)

	state  atomic.Int32
	mu     sync.Mutex
	cond   sync.Cond // signalled on state changes (half-close wait)
	cause  error     // why the connection is closing (under mu)
	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{} // closed when the loop has finished
	attrs  map[string]any
	// closedCh is closed by Close (made on demand by closedChan, under mu).
	closedCh chan struct{}

	class  int // read buffer size class
	waitFn func(uintptr) bool

	// The raw read and write callbacks (wait_unix.go) and their results;
	// nil functions where rc is nil. rd* belong to the reading goroutine,
	// wr* to the holder of wlock.
	readFn  func(uintptr) bool
	writeFn func(uintptr) bool
	rdClass int
	rdOnce  bool    // readRaw makes one attempt (errWouldBlock), no wait
	one     [1]byte // a TLS connection's bufferless wait reads into it (loop.go)
	rdBuf   *[]byte
	rdN     int
	rdErr   error
	wrP     []byte
	wrN     int
	wrErr   error

	// stopped: the stopping server's GracefulFace hook ran; faceStop: it
	// returned nil, and the loop reads on until the face ends the
	// connection (loop only).
	stopped  bool
	faceStop bool
	keepW    bool       // ErrAwaitPeerClose: the graceful end keeps the write side
	next     StreamFace // set by Become: the face after Serve returns

	// ev is the event-loop registration once the connection is detached
	// from Go's poller (evconn_linux.go); nc is closed then.
	ev     atomic.Pointer[evloop.Conn]
	opened bool           // the face's Open ran before the loop (serveOnPoller)
	pl     *evloop.Poller // the poller it was handed to (counted in Server.pconns)

	pre      []byte       // bytes read before adoption (adopt.go)
	stopHook func()       // replaces Shutdown's wake-up (stream.go; under mu)
	pr       PooledReader // nc's, if it hands over pooled buffers (stream.go)
	timerAt  time.Time    // the read deadline armed for a TimerFace (timer.go)
}

// NewConn wraps nc for use without a loop: a pull-style client reads with
// [Conn.Read] and writes with [Conn.Write]. Call [Conn.Close] when done.
func NewConn(nc net.Conn, cfg ConnConfig) *Conn {
	c := &Conn{nc: nc, cfg: cfg, id: connIDs.Add(1), wlock: make(chan struct{}, 1)}
	if c.cfg.MaxPendingWrites <= 0 {
		c.cfg.MaxPendingWrites = DefaultMaxPendingWrites
	}
	if c.cfg.Linger <= 0 {
		c.cfg.Linger = DefaultLinger
	}
	if c.cfg.Logger == nil {
		c.cfg.Logger = slog.Default()
	}
	c.cond.L = &c.mu
	c.pr, _ = nc.(PooledReader)
	if sc, ok := nc.(syscall.Conn); ok && canWaitWithoutBuffer {
		if rc, err := sc.SyscallConn(); err == nil {
			c.rc = rc
			c.waitFn = c.waitReadable
			c.readFn = c.readRaw
			c.writeFn = c.writeRaw
		}
	}
	return c
}

// ID returns the connection's process-unique number.
func (c *Conn) ID() uint64 { return c.id }

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// RemoteAddr returns the remote network address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// TLS returns the TLS connection state, or nil for a plain connection. A
// stream (ServeStream) reports its carrying connection's, if its net.Conn
// has a TLSState() *tls.ConnectionState method.
func (c *Conn) TLS() *tls.ConnectionState {
	if st, ok := c.nc.(interface{ TLSState() *tls.ConnectionState }); ok {
		return st.TLSState()
	}
	if tc, ok := c.nc.(*tls.Conn); ok {
		st := tc.ConnectionState()
		return &st
	}
	return nil
}

// Logger returns the connection's logger.
func (c *Conn) Logger() *slog.Logger { return c.cfg.Logger }

// IsOpen reports whether the connection has not begun closing.
func (c *Conn) IsOpen() bool { return c.state.Load() == stateOpen }

// Context returns a context cancelled when the connection ends or its
// listener begins stopping; context.Cause says why. It is created on first
// use.
func (c *Conn) Context() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		c.ctx, c.cancel = context.WithCancelCause(context.Background())
		if c.cause != nil {
			c.cancel(c.cause)
		}
	}
	return c.ctx
}

// dropContext cancels and forgets the connection's context unless the
// connection is ending already, so that an upgraded connection does not
// keep, for as long as it lives, the context its upgrade request was
// served with and the map of children that request grew in it (about
// 300 bytes). A context taken during Serve ends with Serve (cause
// context.Canceled), as an HTTP request's ends with its handler.
func (c *Conn) dropContext() {
	c.mu.Lock()
	if c.cause == nil && c.ctx != nil {
		c.cancel(nil)
		c.ctx, c.cancel = nil, nil
	}
	c.mu.Unlock()
}

// Attr returns the attribute stored under key.
func (c *Conn) Attr(key string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.attrs[key]
	return v, ok
}

// SetAttr stores an attribute; a nil value removes it.
func (c *Conn) SetAttr(key string, v any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v == nil {
		delete(c.attrs, key)
		return
	}
	if c.attrs == nil {
		c.attrs = make(map[string]any)
	}
	c.attrs[key] = v
}

// setCause records why the connection is ending and cancels its context.
func (c *Conn) setCause(err error) {
	c.mu.Lock()
	if c.cause == nil {
		c.cause = err
	}
	if c.cancel != nil {
		c.cancel(c.cause)
	}
	c.mu.Unlock()
}

// Cause returns why the connection is closing, or nil while it is open.
func (c *Conn) Cause() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause
}

// OnLoop reports whether the calling goroutine is the connection's own loop
// (so a callback is running). It costs a stack read; use it on rare paths.
func (c *Conn) OnLoop() bool {
	g := c.goid.Load()
	return g != 0 && g == goid.Current()
}

// Write writes all of p under the connection's write lock and returns when
// the kernel has accepted every byte. The deadline is the earlier of ctx's
// and the configured WriteTimeout. If ctx ends or the deadline passes before
// any byte is written, the error is returned and the connection is
// unaffected; after some bytes the connection is closed and the error wraps
// both the cause and net.ErrClosed.
func (c *Conn) Write(ctx context.Context, p []byte) (int, error) {
	if err := c.lockWrite(ctx); err != nil {
		return 0, err
	}
	defer c.unlockWrite()
	return c.writeLocked(ctx, p)
}

// WriteBuffers is Write for several slices, sent with one writev when the
// connection supports it.
func (c *Conn) WriteBuffers(ctx context.Context, bufs *net.Buffers) (int64, error) {
	if err := c.lockWrite(ctx); err != nil {
		return 0, err
	}
	defer c.unlockWrite()
	return c.WriteBuffersHeld(ctx, bufs)
}

func (c *Conn) writeLocked(ctx context.Context, p []byte) (int, error) {
	if c.wclosed || c.state.Load() == stateClosed {
		return 0, c.closedErr()
	}
	if err := ctx.Err(); err != nil {
		// The cancellation watch would fire too late to stop this write.
		return 0, err
	}
	if ev := c.ev.Load(); ev != nil {
		return c.evWrite(ctx, ev, p)
	}
	var done int
	if c.writeFn != nil && len(p) > 0 && deadlineAhead(ctx) {
		// Most writes fit the socket buffer: one non-blocking attempt needs
		// no deadline and no cancellation watch. Only the rest, if any,
		// takes the blocking path below.
		n, err := c.tryWrite(p)
		if err != nil {
			return n, c.writeResult(ctx, nil, n, err)
		}
		if n == len(p) {
			return n, nil
		}
		done = n
	}
	stop := c.armWrite(ctx)
	n, err := c.nc.Write(p[done:])
	n += done
	return n, c.writeResult(ctx, stop, n, err)
}

// deadlineAhead reports whether ctx has no deadline or one still ahead
// (ctx's own timer may not have fired yet when it has passed).
func deadlineAhead(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return !ok || time.Now().Before(dl)
}

// tryWrite makes one non-blocking write attempt. It returns the bytes
// written, and an error only for a socket failure; a write that would block
// (or a wait that could not start, such as an expired deadline) returns
// what was written and nil, for the blocking path to go on.
func (c *Conn) tryWrite(p []byte) (int, error) {
	c.wrP = p
	err := c.rc.Write(c.writeFn)
	n, werr := c.wrN, c.wrErr
	c.wrP, c.wrN, c.wrErr = nil, 0, nil
	if err != nil {
		return 0, nil
	}
	if werr != nil {
		return n, c.opError("write", werr)
	}
	return n, nil
}

// readPooled waits for readability without holding a buffer, then reads
// into a pooled buffer of the given class. buf is nil when nothing was
// read: err is then io.EOF, a socket error, or the wait's own error (a
// deadline used as a wake-up, or net.ErrClosed).
func (c *Conn) readPooled(class int) (buf *[]byte, n int, err error) {
	c.rdClass = class
	err = c.rc.Read(c.readFn)
	buf, n, rerr := c.rdBuf, c.rdN, c.rdErr
	c.rdBuf, c.rdN, c.rdErr = nil, 0, nil
	switch {
	case err != nil: // readRaw's last call (if any) parked: it kept no buffer
		return nil, 0, err
	case rerr == io.EOF, rerr == errWouldBlock:
		return nil, 0, rerr
	case rerr != nil:
		return nil, 0, c.opError("read", rerr)
	}
	return buf, n, nil
}

// opError wraps a system call error as net's own Read and Write do.
func (c *Conn) opError(op string, err error) error {
	la := c.nc.LocalAddr()
	return &net.OpError{Op: op, Net: la.Network(), Source: la, Addr: c.nc.RemoteAddr(), Err: os.NewSyscallError(op, err)}
}

// closedErr is the error of an operation on a closed or closing connection.
// It always matches net.ErrClosed: a cause that does not (an I/O error, a
// write timeout) is wrapped, so that a later read or write never looks like
// a retryable timeout.
func (c *Conn) closedErr() error {
	err := c.Cause()
	switch {
	case err == nil:
		return ErrConnClosed
	case errors.Is(err, net.ErrClosed) && !isTimeout(err):
		return err
	}
	return &closedByError{cause: err}
}

// lockWrite takes the write lock, or fails with ErrSendQueueFull, ctx's
// error, a write timeout, or (as soon as the connection is closed, by
// anyone) the close cause, matching net.ErrClosed.
func (c *Conn) lockWrite(ctx context.Context) error { return c.lockWriteWait(ctx, true) }

// lockWriteWait is lockWrite; capped counts the caller against
// MaxPendingWrites (CloseWrite is not).
func (c *Conn) lockWriteWait(ctx context.Context, capped bool) error {
	select {
	case c.wlock <- struct{}{}:
		return nil
	default:
	}
	if c.state.Load() == stateClosed {
		return c.closedErr()
	}
	if capped {
		if int(c.waiting.Add(1)) > c.cfg.MaxPendingWrites {
			c.waiting.Add(-1)
			return ErrSendQueueFull
		}
		defer c.waiting.Add(-1)
	}
	var timeout <-chan time.Time
	if c.cfg.WriteTimeout > 0 {
		t := time.NewTimer(c.cfg.WriteTimeout)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case c.wlock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-timeout:
		return ErrWriteTimeout
	case <-c.closedChan():
		return c.closedErr()
	}
}

// closedChan returns a channel closed when the connection is closed. It is
// made on demand: only writers that wait for the write lock need it.
func (c *Conn) closedChan() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closedCh == nil {
		c.closedCh = make(chan struct{})
		if c.state.Load() == stateClosed {
			close(c.closedCh)
		}
	}
	return c.closedCh
}

func (c *Conn) unlockWrite() { <-c.wlock }

// watch makes ctx's cancellation interrupt a blocked call by moving the
// socket's read (or, with write, write) deadline into the past. It returns nil, at no cost, when ctx cannot be
// cancelled (context.Background); otherwise it costs one context.AfterFunc,
// and the returned stop, called after the I/O, reports whether the
// cancellation fired, having waited for it so that it cannot hit a later
// call. A deadline alone is not enough: a ctx with a deadline may still be
// cancelled early (by its cancel func or its parent).
func (c *Conn) watch(ctx context.Context, write bool) (stop func() (fired bool)) {
	if ctx.Done() == nil {
		return nil
	}
	done := make(chan struct{})
	after := context.AfterFunc(ctx, func() {
		defer close(done)
		if write {
			c.nc.SetWriteDeadline(aLongTimeAgo)
		} else {
			c.nc.SetReadDeadline(aLongTimeAgo)
		}
	})
	return func() bool {
		if after() {
			return false
		}
		<-done
		return true
	}
}

// armWrite sets the write deadline for one write and arranges for ctx's
// cancellation to interrupt it.
func (c *Conn) armWrite(ctx context.Context) (stop func() bool) {
	dl, hasDL := ctx.Deadline()
	if c.cfg.WriteTimeout > 0 {
		t := time.Now().Add(c.cfg.WriteTimeout)
		if !hasDL || t.Before(dl) {
			dl, hasDL = t, true
		}
	}
	if hasDL {
		c.nc.SetWriteDeadline(dl)
		c.wdl = true
	} else if c.wdl {
		c.nc.SetWriteDeadline(time.Time{})
		c.wdl = false
	}
	return c.watch(ctx, true)
}

func (c *Conn) writeResult(ctx context.Context, stop func() bool, n int, err error) error {
	if stop != nil && stop() {
		c.wdl = true // the cancellation set a deadline in the past
	}
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil && isTimeout(err) {
		err = ctxErr
	} else if isTimeout(err) && ctxDeadlineFirst(ctx, c.cfg.WriteTimeout) {
		// The socket deadline was ctx's, and fired before ctx's own timer.
		err = context.DeadlineExceeded
	} else if isTimeout(err) {
		err = ErrWriteTimeout
	} else if errors.Is(err, net.ErrClosed) {
		err = c.closedErr()
	}
	_, isTLS := c.nc.(*tls.Conn)
	if n > 0 || isTLS || !isTimeout(err) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		// The stream is now broken (or TLS state is): close the connection.
		c.Close(err) // Close takes no write lock, so it is safe here
		if n > 0 {
			return &partialWriteError{n: n, err: err}
		}
	}
	return err
}

// ctxDeadlineFirst reports whether ctx's deadline has passed, so that an
// I/O timeout is ctx's even if ctx's own timer has not fired yet. (timeout
// is the configured one; when ctx's deadline passed, it was the earlier.)
func ctxDeadlineFirst(ctx context.Context, _ time.Duration) bool {
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// CloseWrite shuts down the write side (the peer sees FIN) after any write
// in progress. Later writes fail with an error matching net.ErrClosed. Its
// wait for the write lock is bounded by WriteTimeout and ends as soon as the
// connection is closed (the error then matches net.ErrClosed).
func (c *Conn) CloseWrite() error {
	if err := c.lockWriteWait(context.Background(), false); err != nil {
		return err
	}
	defer c.unlockWrite()
	if c.state.Load() == stateClosed {
		return c.closedErr()
	}
	return c.closeWriteLocked()
}

func (c *Conn) closeWriteLocked() error {
	if c.wclosed {
		return nil
	}
	c.wclosed = true
	if ev := c.ev.Load(); ev != nil {
		return ev.CloseWrite()
	}
	var err error
	nc := c.nc
	if tc, ok := nc.(*tls.Conn); ok {
		c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		err = tc.CloseWrite()
		nc = tc.NetConn()
	}
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		if e := cw.CloseWrite(); err == nil {
			err = e
		}
	}
	return err
}

// Shutdown asks for the graceful close: after the running callback (if any)
// returns, the write side is shut down, the loop discards input until the
// peer's EOF or the linger deadline, then the face's Closed runs and the
// socket is closed. It does not wait. cause becomes the context's cause.
func (c *Conn) Shutdown(cause error) {
	if cause == nil {
		cause = ErrConnClosed
	}
	if !c.state.CompareAndSwap(stateOpen, stateGraceful) {
		return
	}
	c.setCause(cause)
	c.mu.Lock()
	c.cond.Broadcast()
	hook := c.stopHook
	c.mu.Unlock()
	if hook != nil {
		hook()
		return
	}
	if ev := c.ev.Load(); ev != nil {
		ev.Wake() // Woken acts on the state
		return
	}
	// Wake a loop blocked in a read or a readiness wait. The loop resets the
	// deadline when it sees the state.
	c.nc.SetReadDeadline(aLongTimeAgo)
}

// Close closes the connection at once: blocked reads and writes return, the
// loop ends and the face's Closed runs with cause. It does not wait.
func (c *Conn) Close(cause error) error {
	if cause == nil {
		cause = ErrConnClosed
	}
	if c.state.Swap(stateClosed) == stateClosed {
		return nil
	}
	c.setCause(cause)
	c.mu.Lock()
	c.cond.Broadcast()
	if c.closedCh != nil {
		close(c.closedCh)
	}
	c.mu.Unlock()
	if ev := c.ev.Load(); ev != nil {
		// The socket is shut down at once, closed after the running
		// callback returns.
		ev.Abort(cause)
		return nil
	}
	return c.nc.Close()
}

// Done returns a channel closed when the connection's loop has finished
// (nil for a connection without a loop).
func (c *Conn) Done() <-chan struct{} { return c.done }

// Read reads into p (pull style). The deadline is the earlier of ctx's and
// the configured ReadTimeout. A timed-out read consumes nothing and the
// connection stays usable: the error matches os.ErrDeadlineExceeded (or is
// ctx's error). End of stream is io.EOF. After Shutdown or Close, Read fails
// with the close cause (matching net.ErrClosed).
func (c *Conn) Read(ctx context.Context, p []byte) (int, error) {
	if c.state.Load() != stateOpen {
		return 0, c.closedErr()
	}
	if c.pre != nil {
		return c.readBuffered(p), nil
	}
	dl, hasDL := ctx.Deadline()
	if c.cfg.ReadTimeout > 0 {
		t := time.Now().Add(c.cfg.ReadTimeout)
		if !hasDL || t.Before(dl) {
			dl, hasDL = t, true
		}
	}
	c.nc.SetReadDeadline(dl) // zero time clears
	stop := c.watch(ctx, false)
	if c.state.Load() != stateOpen { // raced with Shutdown's wake-up
		if stop != nil {
			stop()
		}
		return 0, c.closedErr()
	}
	n, err := c.nc.Read(p)
	if stop != nil {
		stop()
	}
	if err == nil || n > 0 && !isTimeout(err) {
		return n, err
	}
	switch {
	case c.state.Load() != stateOpen:
		return n, c.closedErr()
	case isTimeout(err):
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		if ctxDeadlineFirst(ctx, c.cfg.ReadTimeout) {
			// The socket deadline was ctx's, and fired before ctx's timer.
			return n, context.DeadlineExceeded
		}
		return n, ErrReadTimeout
	case errors.Is(err, net.ErrClosed):
		return n, c.closedErr()
	}
	return n, err
}

// SetLinger changes how long this connection's graceful close waits for
// the peer's EOF (ConnConfig.Linger), from now on. Only the connection's
// own goroutine calls it, before the close: a face that answered and is
// done with a connection (an HTTP error response, say) shortens the wait.
func (c *Conn) SetLinger(d time.Duration) {
	if d > 0 {
		c.cfg.Linger = d
	}
}

// AwaitPeerClose reads and discards until the peer's EOF (or an error, or
// the Linger deadline), without closing the write side, then closes the
// connection: for a pulled connection whose peer must close first. Only the
// connection's reader calls it.
func (c *Conn) AwaitPeerClose() {
	if c.state.Load() != stateClosed {
		c.lingerDiscard(time.Now().Add(c.cfg.Linger))
	}
	c.Close(ErrConnClosed)
}

// lingerDiscard reads and discards until EOF, an error, or the deadline.
// A wake-up meant for a blocked read (Shutdown sets a past read deadline)
// does not cut it short, however it interleaves with the deadline set
// here: a stop then waits for the peer's EOF, bounded by the linger and by
// the stop's ctx (which closes the connection), as every lingering close.
func (c *Conn) lingerDiscard(deadline time.Time) {
	var buf [512]byte
	for {
		c.nc.SetReadDeadline(deadline)
		_, err := c.nc.Read(buf[:])
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && time.Now().Before(deadline) && c.state.Load() != stateClosed {
			continue // woken early, not by the deadline
		}
		return
	}
}
