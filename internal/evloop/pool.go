//go:build linux

package evloop

import (
	"sync"

	"github.com/netkit-go/netkit/internal/goid"
)

// pool is the bounded set of goroutines that serve ready connections. A
// connection is queued at most once at a time (its sched state says so),
// so the queue never holds more entries than there are connections.
type pool struct {
	mu      sync.Mutex
	cond    sync.Cond
	q       []*Conn // ring buffer
	head    int
	n       int
	running int // worker goroutines alive
	idle    int // workers parked in cond.Wait
	max     int // cap on running
	keep    int // parked workers kept alive; the rest exit when idle
	closed  bool
	zero    chan struct{} // closed when running reaches 0 after close
	zeroed  bool
}

func (p *pool) init(max, keep int) {
	p.cond.L = &p.mu
	p.max, p.keep = max, keep
	p.q = make([]*Conn, 64)
	p.zero = make(chan struct{})
}

// submit queues c and makes sure a worker will take it. It never blocks on
// a worker: the loop calls it.
func (p *pool) submit(c *Conn) {
	p.mu.Lock()
	p.push(c)
	switch {
	case p.idle > 0:
		p.cond.Signal()
	case p.running < p.max:
		p.running++
		go p.work()
	}
	p.mu.Unlock()
}

// push appends c to the queue. p.mu is held.
func (p *pool) push(c *Conn) {
	if p.n == len(p.q) {
		nq := make([]*Conn, 2*len(p.q))
		for i := range p.n {
			nq[i] = p.q[(p.head+i)%len(p.q)]
		}
		p.q, p.head = nq, 0
	}
	p.q[(p.head+p.n)%len(p.q)] = c
	p.n++
}

// enqueue queues cs without waking a worker: the loop goroutine that
// calls it serves the queue itself ([pool.take]) before it waits for
// events again, and kicks the pool for whatever it leaves there.
func (p *pool) enqueue(cs []*Conn) {
	p.mu.Lock()
	for _, c := range cs {
		p.push(c)
	}
	p.mu.Unlock()
}

// take pops the next queued connection, nil when the queue is empty.
func (p *pool) take() *Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n == 0 {
		return nil
	}
	c := p.q[p.head]
	p.q[p.head] = nil
	p.head = (p.head + 1) % len(p.q)
	p.n--
	return c
}

// kick makes sure workers will serve what is queued: it wakes parked
// workers, or starts new ones below max, one per queued connection.
func (p *pool) kick() {
	p.mu.Lock()
	woken := 0
	for range p.n {
		switch {
		case woken < p.idle:
			p.cond.Signal()
			woken++
		case p.running < p.max:
			p.running++
			go p.work()
		}
	}
	p.mu.Unlock()
}

// work serves queued connections until the queue is empty and enough
// workers are parked already (or the pool is closed).
func (p *pool) work() {
	gid := goid.Current() // once per worker, not per turn (a stack read)
	p.mu.Lock()
	for {
		for p.n == 0 {
			if p.closed || p.idle >= p.keep {
				p.running--
				p.maybeZero()
				p.mu.Unlock()
				return
			}
			p.idle++
			p.cond.Wait()
			p.idle--
		}
		c := p.q[p.head]
		p.q[p.head] = nil
		p.head = (p.head + 1) % len(p.q)
		p.n--
		p.mu.Unlock()
		p.serve(c, gid)
		p.mu.Lock()
	}
}

// serve runs turns of c until it is idle, finished or must yield. gid is
// the serving goroutine's id, which Conn.Goroutine reports to handlers.
func (p *pool) serve(c *Conn, gid uint64) {
	c.gid = gid
	for {
		c.sched.Store(schedRunning)
		if c.turn() {
			p.submit(c) // budget spent: to the back of the queue
			return
		}
		if c.finished {
			return // sched stays non-zero: never scheduled again
		}
		if c.sched.CompareAndSwap(schedRunning, schedIdle) {
			return
		}
		// readiness, a wake or a close arrived during the turn
	}
}

// join makes the calling goroutine (a loop goroutine that was taken over
// while serving a connection) one of the workers. The pool may thus run
// up to one goroutine per loop beyond max for a while.
func (p *pool) join() {
	p.mu.Lock()
	p.running++
	p.mu.Unlock()
	p.work()
}

// close makes idle workers exit; it returns the channel closed once every
// worker has.
func (p *pool) close() <-chan struct{} {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		p.maybeZero()
		p.cond.Broadcast()
	}
	p.mu.Unlock()
	return p.zero
}

// maybeZero closes zero once the closed pool has no worker. p.mu is held.
func (p *pool) maybeZero() {
	if p.closed && p.running == 0 && !p.zeroed {
		p.zeroed = true
		close(p.zero)
	}
}

// workers reports the worker goroutines alive.
func (p *pool) workers() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running
}
