//go:build linux

package evloop

import (
	"context"
	"fmt"
	"math"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/netkit-go/netkit/internal/bufpool"
	"github.com/netkit-go/netkit/internal/goid"
)

// Supported reports whether this platform has the event-loop backend.
const Supported = true

// events every registration asks for: edge-triggered readability and the
// peer's FIN. Writability (EPOLLOUT) is added on a connection's first
// blocked write only: asking for it at once would wake the loop for every
// new connection (a new socket is writable).
const regEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET

// wakeSlot marks the eventfd's registration in an epoll event.
const wakeSlot = math.MaxInt32

// Poller owns edge-triggered epoll loops and the bounded pool of goroutines
// that serve the connections they report ready. Make one with [New].
type Poller struct {
	cfg   Config
	loops []*loop
	pool  pool
	next  atomic.Uint32 // round-robin loop choice

	live      atomic.Int64 // registered, not yet finished connections
	closing   atomic.Bool
	loopsDone atomic.Bool   // every loop goroutine has exited
	zero      chan struct{} // closed when live reaches 0 while closing
	zeroOnce  sync.Once
	loopsWG   sync.WaitGroup
	stopOnce  sync.Once
	relOnce   sync.Once
}

// loop is one epoll instance, its wake-up eventfd and the table that maps
// an event's (slot, generation) back to its connection.
type loop struct {
	p    *Poller
	epfd int
	efd  int

	mu    sync.Mutex
	conns []*Conn
	free  []int32
	stop  bool

	// The loop goroutine serves the connections of a batch itself
	// (batch: the ones it found ready, queued in the pool without waking
	// a worker), so that the common case needs no hand-over. If one turn
	// is still running after inlineBound, dog hands the loop role to a
	// new goroutine, and the old one carries on as a worker.
	batch    []*Conn
	inline   atomic.Bool   // the loop goroutine is serving a turn
	session  atomic.Uint64 // counts inline turns
	dogArmed atomic.Bool
	dog      *time.Timer
	dogMu    sync.Mutex
	lastSeen uint64 // session at the dog's last firing
}

// inlineBound is how long the loop goroutine may serve a connection
// itself before another goroutine takes over the loop.
const inlineBound = time.Millisecond

// busyWait is how long (in ms) a loop that had events blocks in
// epoll_wait on its own thread before it waits in the runtime's poller
// instead (and holds no thread while idle).
const busyWait = 10

// idleRetry is how long (in ms) an idle loop that could not register
// with the runtime's poller (no descriptor left for the duplicate) blocks
// in epoll_wait before it tries again.
const idleRetry = 1000

// serveBound caps the turns a loop goroutine serves from the queue
// between two epoll_waits; what is left goes to the workers.
const serveBound = 4 * DefaultEvents

// New starts a poller: cfg.Loops epoll loops, each on its own goroutine
// (parked in the runtime's poller while nothing is ready), and an empty
// worker pool.
func New(cfg Config) (*Poller, error) {
	cfg = cfg.resolved()
	p := &Poller{cfg: cfg, zero: make(chan struct{})}
	p.pool.init(cfg.Workers, cfg.IdleWorkers)
	for range cfg.Loops {
		lp, err := newLoop(p)
		if err != nil {
			for _, l := range p.loops {
				l.wake()
			}
			p.loopsWG.Wait()
			p.release()
			return nil, err
		}
		p.loops = append(p.loops, lp)
		p.loopsWG.Add(1)
		go lp.run(cfg.Events)
	}
	return p, nil
}

func newLoop(p *Poller) (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("evloop: epoll_create1: %w", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("evloop: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: wakeSlot}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &ev); err != nil {
		unix.Close(efd)
		unix.Close(epfd)
		return nil, fmt.Errorf("evloop: epoll_ctl eventfd: %w", err)
	}
	// Non-blocking, so that an idle loop can wait in the runtime's poller
	// for the epoll descriptor to become readable (see idleWait).
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(efd)
		unix.Close(epfd)
		return nil, fmt.Errorf("evloop: set non-blocking: %w", err)
	}
	lp := &loop{p: p, epfd: epfd, efd: efd}
	lp.dog = time.AfterFunc(time.Hour, lp.takeOver)
	lp.dog.Stop()
	return lp, nil
}

// takeOver is the watchdog, armed only while the loop serves inline
// (not once per turn: it fires at most every inlineBound while there is
// activity, never when idle). When the same inline turn is still running
// since its last firing, a new goroutine becomes the loop (inheriting the
// loop's count in loopsWG), and the serving one becomes a worker when its
// turn ends: a blocked handler holds up its own connection only.
func (lp *loop) takeOver() {
	lp.dogMu.Lock()
	defer lp.dogMu.Unlock()
	s := lp.session.Load()
	if lp.inline.Load() && s == lp.lastSeen {
		if lp.inline.CompareAndSwap(true, false) {
			go lp.run(lp.p.cfg.Events)
		}
	}
	lp.lastSeen = s
	lp.dogArmed.Store(false)
	// A turn that began before the store above saw the dog armed and did
	// not arm it: look again.
	if lp.inline.Load() && lp.dogArmed.CompareAndSwap(false, true) {
		lp.dog.Reset(inlineBound)
	}
}

// watch is called as an inline turn begins.
func (lp *loop) watch() {
	lp.session.Add(1)
	lp.inline.Store(true)
	if !lp.dogArmed.Load() && lp.dogArmed.CompareAndSwap(false, true) {
		lp.dog.Reset(inlineBound)
	}
}

// Register hands fd, a connected stream socket, to the poller, which owns
// it from now on: it is set non-blocking, and closed only by the poller
// after [Conn.Close] (or [Poller.Close]). buffered, if not empty, holds
// bytes read from the socket before (net/http's bufio.Reader after a
// hijack); they are copied and handed to h.Data before any socket read.
// h's methods run on pool goroutines, one at a time for this connection.
// On error fd is left open and still the caller's.
func (p *Poller) Register(fd int, h Handler, buffered []byte) (*Conn, error) {
	if p.closing.Load() {
		return nil, fmt.Errorf("evloop: register: %w", net.ErrClosed)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, fmt.Errorf("evloop: set non-blocking: %w", err)
	}
	lp := p.loops[int(p.next.Add(1))%len(p.loops)]
	c := &Conn{fd: fd, lp: lp, h: h}
	c.refs.Store(1)
	if len(buffered) > 0 {
		b := bufpool.Get(bufpool.Class(len(buffered)))
		if len(*b) < len(buffered) {
			nb := make([]byte, len(buffered))
			b = &nb
		}
		c.buf, c.kept, c.fresh = b, copy(*b, buffered), true
	}
	p.live.Add(1)
	lp.mu.Lock()
	if lp.stop {
		lp.mu.Unlock()
		p.finishOne()
		c.dropBuf()
		return nil, fmt.Errorf("evloop: register: %w", net.ErrClosed)
	}
	if n := len(lp.free); n > 0 {
		c.slot = lp.free[n-1]
		lp.free = lp.free[:n-1]
	} else {
		c.slot = int32(len(lp.conns))
		lp.conns = append(lp.conns, nil)
	}
	c.gen = lp.nextGen()
	lp.conns[c.slot] = c
	// Read before the registration: from then on a turn may run and clear
	// c.fresh (the race detector saw it).
	fresh := c.fresh
	ev := unix.EpollEvent{Events: regEvents, Fd: c.slot, Pad: c.gen}
	err := unix.EpollCtl(lp.epfd, unix.EPOLL_CTL_ADD, fd, &ev)
	if err != nil {
		lp.conns[c.slot] = nil
		lp.free = append(lp.free, c.slot)
	}
	lp.mu.Unlock()
	if err != nil {
		p.finishOne()
		c.dropBuf()
		return nil, fmt.Errorf("evloop: epoll_ctl add: %w", err)
	}
	if fresh {
		c.notify()
	}
	return c, nil
}

var genCounter atomic.Uint32

// nextGen returns a generation number for a slot; events carrying another
// generation belong to an earlier occupant and are dropped.
func (lp *loop) nextGen() int32 { return int32(genCounter.Add(1) & math.MaxInt32) }

// run is the loop goroutine: serve what is queued, wait for events, map
// them to connections and queue the ready ones, then serve them itself
// (see takeOver).
//
// While there is traffic it blocks in epoll_wait on its own thread (one
// system call per wake-up, as a loop on a locked thread would). After
// busyWait without an event it waits in the runtime's poller instead
// (idleWait), so that an idle loop holds no OS thread.
func (lp *loop) run(batch int) {
	if lp.runLoop(batch) {
		lp.p.loopsWG.Done()
	} // else taken over: the new loop goroutine inherits the count
}

// runLoop is run's body; it reports false when another goroutine took
// the loop over (this one has served as a worker since).
func (lp *loop) runLoop(batch int) bool {
	defer lp.p.pool.kick() // what this goroutine queued and did not serve
	gid := goid.Current()  // once: Conn.Goroutine for the turns served here
	events := make([]unix.EpollEvent, batch)
	for !lp.stopping() {
		// stopping: a goroutine that took the loop over after the stop
		// request was consumed (read from the eventfd) by its predecessor.
		if !lp.serveQueued(gid) {
			return false
		}
		// Goroutines readied by the turns just served (writers, a face's
		// own goroutines) run first: while this one blocks in a system
		// call they would wait for the runtime to take the P back.
		runtime.Gosched()
		n, err := unix.EpollWait(lp.epfd, events, busyWait)
		if err == nil && n == 0 {
			n, err = lp.idleWait(events)
		}
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			// EBADF or EINVAL: the poller is broken; connections end.
			lp.p.cfg.logf("evloop: epoll_wait: %v", err)
			return true
		}
		stop := lp.dispatch(events[:n])
		lp.p.pool.enqueue(lp.batch) // on a stop too: they are claimed
		clear(lp.batch)
		lp.batch = lp.batch[:0]
		if stop {
			return true
		}
	}
	return true
}

// serveQueued serves queued connections on the loop goroutine, at most
// serveBound turns and for about inlineBound, and kicks the pool for the
// rest (so handlers that each block a little still run side by side, as
// on workers). It reports false when another goroutine took the loop
// over during a turn: the calling goroutine has then served as a worker
// until the pool let it go.
func (lp *loop) serveQueued(gid uint64) bool {
	start := time.Now()
	for i := range serveBound {
		if i > 0 && time.Since(start) > inlineBound {
			break
		}
		c := lp.p.pool.take()
		if c == nil {
			return true
		}
		lp.watch()
		lp.p.pool.serve(c, gid)
		if !lp.inline.CompareAndSwap(true, false) {
			lp.p.pool.join() // another goroutine is the loop now
			return false
		}
	}
	lp.p.pool.kick()
	return true
}

// idleWait waits for events in the runtime's poller: the epoll
// descriptor is readable while it has events (nested epoll), so no OS
// thread is held. It registers a duplicate of the descriptor for the
// wait only: registered while the loop blocks in epoll_wait itself, the
// runtime's poller would wake a thread for every event too.
func (lp *loop) idleWait(events []unix.EpollEvent) (int, error) {
	fd, err := unix.FcntlInt(uintptr(lp.epfd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		// Out of descriptors (EMFILE): wait on this thread a while, and
		// try again next time.
		return unix.EpollWait(lp.epfd, events, idleRetry)
	}
	f := os.NewFile(uintptr(fd), "evloop-epoll")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("evloop: epoll raw conn: %w", err)
	}
	var n int
	var werr error
	err = rc.Read(func(uintptr) bool {
		// Called once before the first wait (events that came before
		// the registration) and after each wake-up.
		for {
			n, werr = unix.EpollWait(lp.epfd, events, 0)
			if werr != unix.EINTR {
				return werr != nil || n > 0
			}
		}
	})
	if err != nil {
		return 0, fmt.Errorf("evloop: wait: %w", err)
	}
	return n, werr
}

// dispatch hands a batch of events to their connections. It reports true
// when the poller is stopping.
func (lp *loop) dispatch(events []unix.EpollEvent) (stop bool) {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	for i := range events {
		ev := &events[i]
		if ev.Fd == wakeSlot {
			var b [8]byte
			unix.Read(lp.efd, b[:])
			if lp.stop {
				return true
			}
			continue
		}
		if int(ev.Fd) >= len(lp.conns) {
			continue
		}
		c := lp.conns[ev.Fd]
		if c == nil || c.gen != ev.Pad {
			continue // stale event of a finished connection
		}
		if c.ready(ev.Events) {
			lp.batch = append(lp.batch, c)
		}
	}
	return false
}

// stopping reports whether the poller asked this loop to stop.
func (lp *loop) stopping() bool {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	return lp.stop
}

// wake asks the loop goroutine to stop.
func (lp *loop) wake() {
	lp.mu.Lock()
	lp.stop = true
	lp.mu.Unlock()
	one := [8]byte{1}
	unix.Write(lp.efd, one[:])
}

// Close stops the poller: no more registrations, the loops exit, every
// connection is closed with [ErrPollerClosed] (its Closed runs on a pool
// goroutine once its current callback returns). Close waits within ctx
// for those callbacks and the pool's goroutines; when ctx ends first it
// returns ctx.Err(), and the rest finish on their own (the poller's
// descriptors are released by the last of them). Called from a handler,
// Close cannot see that handler's own connection finish before the
// handler returns, so it returns at ctx's end; the engine's stop calls it
// from its own goroutine.
func (p *Poller) Close(ctx context.Context) error {
	p.closing.Store(true)
	p.stopOnce.Do(func() {
		for _, lp := range p.loops {
			lp.wake()
		}
	})
	p.loopsWG.Wait() // a loop exits as soon as it reads its eventfd
	p.loopsDone.Store(true)
	for _, lp := range p.loops {
		lp.mu.Lock()
		conns := append([]*Conn(nil), lp.conns...)
		lp.mu.Unlock()
		for _, c := range conns {
			if c != nil {
				c.Close(ErrPollerClosed)
			}
		}
	}
	if p.live.Load() == 0 {
		p.zeroOnce.Do(func() { close(p.zero) })
	}
	select {
	case <-p.zero:
		p.release()
	case <-ctx.Done():
		// The rest finish on their own: the closed pool's workers exit
		// once the queue is empty.
		p.pool.close()
		return ctx.Err()
	}
	select {
	case <-p.pool.close():
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// finishOne counts a connection out; the last one out of a stopped poller
// releases its descriptors (never before the loops have exited: they
// still use them).
func (p *Poller) finishOne() {
	if p.live.Add(-1) == 0 && p.loopsDone.Load() {
		p.zeroOnce.Do(func() { close(p.zero) })
		p.release()
	}
}

// release closes the epoll and eventfd descriptors once no connection
// can use them any more.
func (p *Poller) release() {
	p.relOnce.Do(func() {
		for _, lp := range p.loops {
			unix.Close(lp.efd)
			unix.Close(lp.epfd)
		}
	})
}

// Stats is a snapshot of a poller's counters.
type Stats struct {
	Loops   int // epoll loops
	Workers int // pool goroutines alive now
	Conns   int // registered connections not yet finished
}

// Stats returns the poller's counters.
func (p *Poller) Stats() Stats {
	return Stats{Loops: len(p.loops), Workers: p.pool.workers(), Conns: int(p.live.Load())}
}

const (
	schedIdle    = 0 // not queued: the loop queues it on readiness
	schedRunning = 1 // queued or being served
	schedAgain   = 2 // as running, and something arrived since the turn began
)

const (
	fClose uint32 = 1 << iota // Close was called: finish at the next turn
	fWake                     // Wake was called: run Waker.Woken
	fRdHup                    // the loop saw the peer's FIN, a hang-up or an error
	fLate                     // WakeAfterDrain: run Woken once the socket is drained
)

// closedRef marks refs once the connection is finished; the count below
// it is the owner's reference plus the writers inside a system call.
const closedRef = 1 << 30

// Conn is one connection registered with a [Poller]. An idle Conn is this
// struct and its epoll registration: no goroutine, no buffer, no timer.
type Conn struct {
	fd   int
	lp   *loop
	h    Handler
	slot int32
	gen  int32

	sched atomic.Int32
	flags atomic.Uint32
	refs  atomic.Int32
	wr    atomic.Pointer[waiter]

	errMu sync.Mutex
	err   error

	// owned by the goroutine serving the current turn
	buf      *[]byte
	kept     int
	class    int
	fresh    bool // buf holds pre-read bytes not yet handed over
	rdEOF    bool
	finished bool
	gid      uint64 // the serving goroutine's id (Goroutine)
}

// waiter is the channel a blocked writer sleeps on; the loop and Close
// put a token in it. It is made on a connection's first blocked write.
type waiter struct{ ch chan struct{} }

// Goroutine returns the id (as internal/goid.Current reports it) of the
// goroutine serving the connection's current turn. It is meaningful only
// inside a Handler or Waker callback, and costs nothing: each pool worker
// and loop goroutine reads its id once, not once per turn.
func (c *Conn) Goroutine() uint64 { return c.gid }

// Fd returns the connection's descriptor. It is valid until the
// connection is finished; use it only for socket options.
func (c *Conn) Fd() int { return c.fd }

// ready records an event's flags. It runs on the loop, and reports true
// when the loop must queue the connection for a turn (it was idle; a
// running turn is only told to go round again).
func (c *Conn) ready(events uint32) (queue bool) {
	if events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		c.flags.Or(fRdHup)
	}
	if events&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		c.signalWriter()
	}
	if events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) == 0 {
		return false
	}
	for {
		switch c.sched.Load() {
		case schedIdle:
			if c.sched.CompareAndSwap(schedIdle, schedRunning) {
				return true
			}
		case schedRunning:
			if c.sched.CompareAndSwap(schedRunning, schedAgain) {
				return false
			}
		default:
			return false
		}
	}
}

// notify schedules a turn, or marks the running turn to go round again.
func (c *Conn) notify() {
	for {
		switch c.sched.Load() {
		case schedIdle:
			if c.sched.CompareAndSwap(schedIdle, schedRunning) {
				c.lp.p.pool.submit(c)
				return
			}
		case schedRunning:
			if c.sched.CompareAndSwap(schedRunning, schedAgain) {
				return
			}
		default:
			return
		}
	}
}

func (c *Conn) signalWriter() {
	if w := c.wr.Load(); w != nil {
		select {
		case w.ch <- struct{}{}:
		default:
		}
	}
}

// Wake schedules a turn in which the handler's [Waker.Woken] runs (a timer
// fired, a stop began). Safe from any goroutine; wakes coalesce.
func (c *Conn) Wake() {
	c.flags.Or(fWake)
	c.notify()
}

// WakeAfterDrain, called from one of the connection's own callbacks,
// asks for a Woken call later in the same turn, once the bytes the socket
// already holds were handed to Data (a stop that must first answer what
// arrived).
func (c *Conn) WakeAfterDrain() { c.flags.Or(fLate) }

// late turns a WakeAfterDrain request into a wake and reports whether
// there was one.
func (c *Conn) late() bool {
	if c.flags.Load()&fLate == 0 {
		return false
	}
	c.flags.And(^fLate)
	c.flags.Or(fWake)
	return true
}

// Close closes the connection with cause err (nil means [net.ErrClosed]):
// writes fail with net.ErrClosed from now on, a blocked writer returns at
// once, and the socket is closed after the current callback returns (at
// once if none runs), then Closed(c, err) runs. Safe from any goroutine,
// also from the connection's own callbacks; calls after the first do
// nothing.
func (c *Conn) Close(err error) {
	if err == nil {
		err = net.ErrClosed
	}
	c.errMu.Lock()
	if c.flags.Load()&fClose != 0 {
		c.errMu.Unlock()
		return
	}
	c.err = err
	c.flags.Or(fClose)
	c.errMu.Unlock()
	c.signalWriter()
	c.notify()
}

// Abort is Close for a connection whose callback may be stuck: it shuts
// the socket down at once (the peer sees the end, a read or write in
// progress fails) before the descriptor is closed after the callback.
func (c *Conn) Abort(err error) {
	if c.incref() {
		unix.Shutdown(c.fd, unix.SHUT_RDWR)
		c.decref()
	}
	c.Close(err)
}

// CloseWrite shuts the write side down: the peer sees FIN, reads go on.
func (c *Conn) CloseWrite() error {
	if !c.incref() {
		return fmt.Errorf("evloop: close write: %w", net.ErrClosed)
	}
	defer c.decref()
	if err := unix.Shutdown(c.fd, unix.SHUT_WR); err != nil {
		return fmt.Errorf("evloop: close write: %w", err)
	}
	return nil
}

// Write writes all of p, from the calling goroutine. When the socket's
// send buffer is full it waits for writability on that goroutine (the
// loop only signals it), until ctx ends (ctx.Err()), the deadline passes
// ([os.ErrDeadlineExceeded]; the zero time means none) or the connection
// is closed ([net.ErrClosed]). It returns how many bytes were written.
// Writers must be serialised by the caller, as the engine's write lock
// does; Write itself is safe against a concurrent Close.
func (c *Conn) Write(ctx context.Context, p []byte, deadline time.Time) (int, error) {
	if !c.incref() {
		return 0, net.ErrClosed
	}
	defer c.decref()
	n := 0
	for n < len(p) {
		if c.flags.Load()&fClose != 0 {
			return n, net.ErrClosed
		}
		m, err := syscall.Write(c.fd, p[n:]) // syscall's, not unix's: the race detector's I/O sync is the same as net's
		if m > 0 {
			n += m
		}
		switch err {
		case nil, unix.EINTR:
		case unix.EAGAIN:
			if err := c.waitWritable(ctx, deadline); err != nil {
				return n, err
			}
		default:
			if c.flags.Load()&fClose != 0 {
				return n, net.ErrClosed
			}
			return n, fmt.Errorf("evloop: write: %w", os.NewSyscallError("write", err))
		}
	}
	return n, nil
}

var timerPool = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

// waitWritable parks the writer until the loop reports writability (or a
// close, ctx or the deadline). The first time it only publishes the waiter
// and returns, so that the write is retried after the loop can see it:
// writability reported between the failed write and the publication is
// then not lost.
func (c *Conn) waitWritable(ctx context.Context, deadline time.Time) error {
	w := c.wr.Load()
	if w == nil {
		if c.wr.CompareAndSwap(nil, &waiter{ch: make(chan struct{}, 1)}) {
			// From now on the loop reports writability too. MOD re-checks
			// readiness, so writability that came first is reported now;
			// the retry of the write covers it as well. A MOD that races
			// the connection's finish fails harmlessly (ENOENT).
			ev := unix.EpollEvent{Events: regEvents | unix.EPOLLOUT, Fd: c.slot, Pad: c.gen}
			unix.EpollCtl(c.lp.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev)
		}
		return nil
	}
	var done <-chan struct{}
	if ctx != nil {
		done = ctx.Done()
	}
	var tc <-chan time.Time
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			return os.ErrDeadlineExceeded
		}
		t := timerPool.Get().(*time.Timer)
		t.Reset(d)
		defer func() { t.Stop(); timerPool.Put(t) }()
		tc = t.C
	}
	select {
	case <-w.ch:
		return nil
	case <-done:
		return ctx.Err()
	case <-tc:
		return os.ErrDeadlineExceeded
	}
}

func (c *Conn) incref() bool {
	for {
		r := c.refs.Load()
		if r&closedRef != 0 {
			return false
		}
		if c.refs.CompareAndSwap(r, r+1) {
			return true
		}
	}
}

func (c *Conn) decref() {
	if c.refs.Add(-1) == closedRef {
		unix.Close(c.fd)
	}
}

// turn serves the connection once: close or wake requests, the pre-read
// bytes, then reads until EAGAIN (or a short read while the peer's FIN is
// not yet reported). It reports true when the read budget is spent and
// the connection must go to the back of the queue.
func (c *Conn) turn() (yield bool) {
	if c.finished {
		return false
	}
	budget := c.lp.p.cfg.ReadBudget
	drained := false
	for {
		f := c.flags.Load()
		if f&fClose != 0 {
			c.finish()
			return false
		}
		if f&fWake != 0 {
			c.flags.And(^fWake)
			if w, ok := c.h.(Waker); ok {
				if err := c.call(func() error { return w.Woken(c) }); err != nil {
					c.Close(err)
				}
				continue
			}
		}
		if c.fresh {
			c.fresh = false
			c.deliver(c.kept, len(*c.buf))
			continue
		}
		if c.rdEOF || drained {
			if c.late() {
				continue
			}
			return false
		}
		if budget == 0 {
			return true
		}
		budget--
		if c.buf == nil {
			c.buf = bufpool.GetMapped(c.class)
		}
		space := len(*c.buf) - c.kept
		n, err := syscall.Read(c.fd, (*c.buf)[c.kept:]) // syscall's: see Write
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			c.dropEmpty()
			if c.late() {
				continue
			}
			return false
		case err != nil:
			c.dropEmpty()
			c.Close(fmt.Errorf("evloop: read: %w", os.NewSyscallError("read", err)))
		case n == 0:
			c.rdEOF = true
			c.dropBuf()
			if err := c.call(func() error { return c.h.EOF(c) }); err != nil {
				c.Close(err)
			}
		default:
			c.deliver(c.kept+n, len(*c.buf))
			// A short read took everything queued. Data arriving later is
			// a new edge; only a FIN queued behind it is not, and the loop
			// reports that as RDHUP, so read again only then.
			if n < space && c.flags.Load()&fRdHup == 0 {
				drained = true
			}
		}
	}
}

// deliver hands buf[:total] to Data and keeps what it did not consume,
// adapting the buffer's size class like the goroutine backend.
func (c *Conn) deliver(total, size int) {
	var consumed int
	err := c.call(func() error {
		var err error
		consumed, err = c.h.Data(c, (*c.buf)[:total])
		return err
	})
	if err == nil && (consumed < 0 || consumed > total) {
		err = fmt.Errorf("evloop: handler consumed %d of %d bytes", consumed, total)
	}
	if err != nil {
		c.kept = 0
		c.dropBuf()
		c.Close(err)
		return
	}
	kept := total - consumed
	if total == size && c.class < bufpool.Classes-1 {
		c.class++
	} else if c.class > 0 && total <= size/4 {
		c.class--
	}
	c.kept = kept
	if kept == 0 {
		c.dropBuf()
		return
	}
	start := total - kept
	if kept == size || bufpool.ClassSize(c.class) > size {
		// A partial message fills the buffer: move it to a bigger one,
		// beyond the largest class an unpooled one of twice the size.
		nb := bufpool.GetMapped(max(bufpool.Class(kept+1), c.class))
		if len(*nb) <= kept {
			bufpool.Put(nb)
			b := make([]byte, 2*size)
			nb = &b
		}
		copy(*nb, (*c.buf)[start:total])
		bufpool.Put(c.buf)
		c.buf = nb
		return
	}
	copy(*c.buf, (*c.buf)[start:total])
}

// dropEmpty gives the buffer back unless it holds a partial message.
func (c *Conn) dropEmpty() {
	if c.kept == 0 {
		c.dropBuf()
	}
}

func (c *Conn) dropBuf() {
	if c.buf != nil {
		bufpool.Put(c.buf)
		c.buf, c.kept = nil, 0
	}
}

// call runs a handler method, turning a panic into an error that closes
// only this connection.
func (c *Conn) call(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			buf := make([]byte, 4<<10)
			buf = buf[:runtime.Stack(buf, false)]
			err = &PanicError{Value: r, Stack: buf}
		}
	}()
	return f()
}

// finish unregisters and closes the connection, then runs Closed. It runs
// in the connection's last turn.
func (c *Conn) finish() {
	c.finished = true
	c.dropBuf()
	lp := c.lp
	lp.mu.Lock()
	lp.conns[c.slot] = nil
	lp.free = append(lp.free, c.slot)
	lp.mu.Unlock()
	// The descriptor is still open (the owner's reference), so this
	// cannot hit a reused number; after the poller stopped it fails
	// harmlessly (EBADF or ENOENT) and the fd's close drops it anyway.
	unix.EpollCtl(lp.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	for {
		r := c.refs.Load()
		if c.refs.CompareAndSwap(r, r|closedRef) {
			break
		}
	}
	c.decref() // the owner's: closes the fd unless a writer is inside write(2)
	c.errMu.Lock()
	err := c.err
	c.errMu.Unlock()
	c.call(func() error { c.h.Closed(c, err); return nil })
	lp.p.finishOne()
}
