//go:build linux

package evloop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/goid"
	"golang.org/x/sys/unix"
)

func TestEcho(t *testing.T) {
	p := newPoller(t, Config{})
	cl, fd := pair(t)
	h := newEcho()
	if _, err := p.Register(fd, h, nil); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 100, 4096, 70000, 1 << 20} {
		roundTrip(t, cl, bytes.Repeat([]byte{byte(n)}, n))
	}
	cl.Close()
	if err := h.waitClosed(t); err != io.EOF {
		t.Fatalf("Closed cause = %v, want io.EOF", err)
	}
}

func TestManyConnections(t *testing.T) {
	p := newPoller(t, Config{Workers: 8})
	ln := listener(t)
	const conns, msgs = 200, 50
	clients := make([]net.Conn, conns)
	hs := make([]*echo, conns)
	for i := range clients {
		var fd int
		clients[i], fd = pairOn(t, ln)
		hs[i] = newEcho()
		if _, err := p.Register(fd, hs[i], nil); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i, cl := range clients {
		wg.Go(func() {
			cl.SetDeadline(time.Now().Add(20 * time.Second))
			got := make([]byte, 8<<10)
			for j := range msgs {
				msg := bytes.Repeat([]byte{byte(i + j)}, 1+(i*j)%len(got))
				if _, err := cl.Write(msg); err != nil {
					errs <- err
					return
				}
				if _, err := io.ReadFull(cl, got[:len(msg)]); err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(got[:len(msg)], msg) {
					errs <- fmt.Errorf("conn %d msg %d: wrong echo", i, j)
					return
				}
			}
			cl.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, h := range hs {
		if err := h.waitClosed(t); err != io.EOF {
			t.Fatalf("Closed cause = %v", err)
		}
	}
	if s := p.Stats(); s.Workers > 8 {
		t.Fatalf("workers = %d, above the cap of 8", s.Workers)
	}
}

// TestOrderUnderConcurrentReadiness holds the first Data call while the
// client keeps sending and other goroutines keep waking the connection:
// the readiness arriving meanwhile must neither start a second callback
// nor reorder the bytes.
func TestOrderUnderConcurrentReadiness(t *testing.T) {
	p := newPoller(t, Config{Workers: 4, ReadBudget: 2})
	cl, fd := pair(t)
	r := newRecorder(true)
	c, err := p.Register(fd, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	write := func(i int) {
		msg := fmt.Appendf(nil, "<%d>", i)
		want.Write(msg)
		if _, err := cl.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	write(0)
	<-r.entered
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				c.Wake()
			}
		})
	}
	for i := 1; i < 2000; i++ {
		write(i)
	}
	close(r.gate)
	wg.Wait()
	cl.Close()
	select {
	case <-r.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Closed did not run")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.overlap {
		t.Fatal("two callbacks of one connection ran at once")
	}
	if !bytes.Equal(r.got, want.Bytes()) {
		t.Fatalf("stream reordered or lost: got %d bytes, want %d", len(r.got), want.Len())
	}
	if r.wakes == 0 {
		t.Fatal("Woken never ran")
	}
	if r.err != io.EOF {
		t.Fatalf("Closed cause = %v", r.err)
	}
}

// TestHalfClose: the peer's FIN reaches EOF; the handler keeps the
// connection, writes its last reply and shuts its write side down.
func TestHalfClose(t *testing.T) {
	p := newPoller(t, Config{})
	cl, fd := pair(t)
	h := newEcho()
	h.eof = func(c *Conn) error {
		if _, err := c.Write(context.Background(), []byte("bye"), time.Now().Add(5*time.Second)); err != nil {
			return err
		}
		return c.CloseWrite()
	}
	c, err := p.Register(fd, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	if err := cl.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	cl.SetReadDeadline(time.Now().Add(10 * time.Second))
	all, err := io.ReadAll(cl)
	if err != nil {
		t.Fatal(err)
	}
	if string(all) != "hibye" {
		t.Fatalf("client read %q, want %q", all, "hibye")
	}
	select {
	case <-h.closed:
		t.Fatal("half-closed connection was closed without Close")
	default:
	}
	c.Close(nil)
	if err := h.waitClosed(t); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Closed cause = %v", err)
	}
	if _, err := c.Write(context.Background(), []byte("x"), time.Time{}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
}

// TestFINBehindData: data and FIN arriving together must still be seen
// as EOF (the short-read shortcut reads again when RDHUP was reported).
func TestFINBehindData(t *testing.T) {
	p := newPoller(t, Config{})
	ln := listener(t)
	const n = 200
	hs := make([]*recorder, n)
	for i := range hs {
		cl, fd := pairOn(t, ln)
		hs[i] = newRecorder(false)
		if _, err := p.Register(fd, hs[i], nil); err != nil {
			t.Fatal(err)
		}
		cl.Write([]byte("last words"))
		cl.Close()
	}
	for i, r := range hs {
		select {
		case <-r.closed:
		case <-time.After(10 * time.Second):
			t.Fatalf("conn %d: EOF behind data never seen", i)
		}
		if string(r.got) != "last words" || r.err != io.EOF {
			t.Fatalf("conn %d: got %q, cause %v", i, r.got, r.err)
		}
	}
}

// TestCloseWhileServing: Close from another goroutine during Data takes
// effect when Data returns, never concurrently with it.
func TestCloseWhileServing(t *testing.T) {
	p := newPoller(t, Config{})
	cl, c, r := stuckConn(t, p)
	cause := errors.New("test: go away")
	c.Close(cause)
	if _, err := c.Write(context.Background(), []byte("y"), time.Time{}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after Close = %v, want net.ErrClosed", err)
	}
	select {
	case <-r.closed:
		t.Fatal("Closed ran while Data was running")
	default:
	}
	close(r.gate)
	<-r.closed
	if r.err != cause || r.overlap {
		t.Fatalf("cause %v, overlap %v", r.err, r.overlap)
	}
	cl.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := cl.Read(make([]byte, 1)); err == nil {
		t.Fatal("client read data after the close")
	}
}

// TestBlockedWrite: a Write that must wait for a client that does not
// read waits on the writer's goroutine and ends at its deadline, at its
// ctx's cancellation, or at once when anyone closes the connection.
func TestBlockedWrite(t *testing.T) {
	for _, tc := range []struct {
		name     string
		deadline time.Duration // 0: none
		release  func(c *Conn, cancel context.CancelFunc)
		want     error
	}{
		{"deadline", 100 * time.Millisecond, nil, os.ErrDeadlineExceeded},
		{"context", 0, func(c *Conn, cancel context.CancelFunc) { cancel() }, context.Canceled},
		{"close", 0, func(c *Conn, cancel context.CancelFunc) { c.Close(nil) }, net.ErrClosed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPoller(t, Config{})
			_, fd := pair(t)
			c, err := p.Register(fd, newEcho(), nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var deadline time.Time
			if tc.deadline > 0 {
				deadline = time.Now().Add(tc.deadline)
			}
			done := make(chan error, 1)
			go func() {
				_, err := c.Write(ctx, make([]byte, 64<<20), deadline)
				done <- err
			}()
			if tc.release != nil {
				waitUntil(t, "the writer to block", func() bool { return c.wr.Load() != nil })
				tc.release(c, cancel)
			}
			select {
			case err := <-done:
				if !errors.Is(err, tc.want) {
					t.Fatalf("blocked write = %v, want %v", err, tc.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the blocked write did not return")
			}
		})
	}
}

// TestAbortStuckCallback: Abort severs the peer while a callback is stuck;
// the descriptor is closed (and Closed runs) once it returns.
func TestAbortStuckCallback(t *testing.T) {
	p := newPoller(t, Config{})
	cl, c, r := stuckConn(t, p)
	c.Abort(nil)
	cl.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := cl.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("client read after Abort = %d, %v; want EOF", n, err)
	}
	close(r.gate)
	<-r.closed
}

func TestBuffered(t *testing.T) {
	p := newPoller(t, Config{})
	cl, fd := pair(t)
	r := newRecorder(false)
	if _, err := p.Register(fd, r, []byte("pre-read|")); err != nil {
		t.Fatal(err)
	}
	cl.Write([]byte("socket"))
	cl.Close()
	<-r.closed
	if string(r.got) != "pre-read|socket" {
		t.Fatalf("got %q", r.got)
	}
}

// partial consumes only whole lines, so the engine-style "consumed"
// contract is exercised across reads.
type partial struct {
	echo
	lines []string
}

func (h *partial) Data(c *Conn, p []byte) (int, error) {
	used := 0
	for {
		i := bytes.IndexByte(p[used:], '\n')
		if i < 0 {
			return used, nil
		}
		h.lines = append(h.lines, string(p[used:used+i]))
		used += i + 1
	}
}

func TestPartialConsume(t *testing.T) {
	p := newPoller(t, Config{})
	cl, fd := pair(t)
	h := &partial{echo: *newEcho()}
	if _, err := p.Register(fd, h, nil); err != nil {
		t.Fatal(err)
	}
	long := string(bytes.Repeat([]byte("z"), 300<<10)) // beyond the largest buffer class
	for _, part := range []string{"ab", "c\nde", "f\n", long[:1000], long[1000:] + "\n", "tail"} {
		if _, err := cl.Write([]byte(part)); err != nil {
			t.Fatal(err)
		}
	}
	cl.Close()
	h.waitClosed(t)
	if len(h.lines) != 3 || h.lines[0] != "abc" || h.lines[1] != "def" || h.lines[2] != long {
		t.Fatalf("lines = %d %.10q", len(h.lines), h.lines)
	}
}

type panicker struct{ echo }

func (h *panicker) Data(c *Conn, p []byte) (int, error) { panic("test: boom") }

func TestPanicClosesOnlyThatConnection(t *testing.T) {
	p := newPoller(t, Config{})
	ln := listener(t)
	bad, fd := pairOn(t, ln)
	ph := &panicker{echo: *newEcho()}
	if _, err := p.Register(fd, ph, nil); err != nil {
		t.Fatal(err)
	}
	good, fd2 := pairOn(t, ln)
	if _, err := p.Register(fd2, newEcho(), nil); err != nil {
		t.Fatal(err)
	}
	bad.Write([]byte("x"))
	var pe *PanicError
	if err := ph.waitClosed(t); !errors.As(err, &pe) || pe.Value != "test: boom" {
		t.Fatalf("Closed cause = %v", err)
	}
	roundTrip(t, good, []byte("still here"))
}

func TestPollerCloseClosesConnections(t *testing.T) {
	p, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	cl, fd := pair(t)
	h := newEcho()
	if _, err := p.Register(fd, h, nil); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, cl, []byte("x"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.waitClosed(t); !errors.Is(err, ErrPollerClosed) || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Closed cause = %v", err)
	}
	if _, err := p.Register(0, h, nil); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Register after Close = %v", err)
	}
	if s := p.Stats(); s.Workers != 0 || s.Conns != 0 {
		t.Fatalf("after Close: %+v", s)
	}
}

// TestPollerCloseBoundedByContext: a stuck callback does not hold Close
// beyond its context.
func TestPollerCloseBoundedByContext(t *testing.T) {
	p, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, r := stuckConn(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.Close(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Close with a stuck callback = %v", err)
	}
	close(r.gate)
	<-r.closed
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if err := p.Close(ctx2); err != nil {
		t.Fatal(err)
	}
}

// TestIdleConnectionsCostNoGoroutine registers 2000 connections, has each
// one served once, and checks that, idle, they hold no goroutine: the
// count stays under a constant plus the pool's size. It reports the
// goroutines and heap per idle connection.
func TestIdleConnectionsCostNoGoroutine(t *testing.T) {
	if testing.Short() {
		t.Skip("2000 connections")
	}
	// EVLOOP_IDLE_CONNS overrides the count for a measurement (each
	// connection holds two descriptors in this process: mind the limit).
	n, workers := 2000, 16
	if v, err := strconv.Atoi(os.Getenv("EVLOOP_IDLE_CONNS")); err == nil && v > 0 {
		n = v
	}
	ln := listener(t)
	clients := make([]net.Conn, n)
	fds := make([]int, n)
	for i := range clients {
		clients[i], fds[i] = pairOn(t, ln)
	}
	hs := make([]echo, n)
	for i := range hs {
		hs[i] = *newEcho()
	}
	var m0, m1 runtime.MemStats
	gc := func(m *runtime.MemStats) {
		runtime.GC()
		runtime.GC() // the second empties sync.Pool's victim cache
		runtime.ReadMemStats(m)
	}
	gc(&m0)
	g0 := runtime.NumGoroutine()
	p := newPoller(t, Config{Workers: workers})
	for i, fd := range fds {
		if _, err := p.Register(fd, &hs[i], nil); err != nil {
			t.Fatal(err)
		}
	}
	msg := []byte("ping")
	for _, cl := range clients {
		roundTrip(t, cl, msg)
	}
	stats := p.Stats()
	waitUntil(t, "workers to park", func() bool { return p.Stats().Workers <= stats.Loops })
	gc(&m1)
	g1 := runtime.NumGoroutine()
	perConn := float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc)) / float64(n)
	t.Logf("%d idle connections: %d goroutines over the baseline (%d loops, %d parked workers); heap %.0f B per connection",
		n, g1-g0, stats.Loops, p.Stats().Workers, perConn)
	if limit := 8 + workers; g1-g0 > limit {
		t.Fatalf("%d goroutines for %d idle connections, want <= %d", g1-g0, n, limit)
	}
	if perConn > 1024 {
		t.Fatalf("heap per idle connection = %.0f B, want <= 1024", perConn)
	}
	runtime.KeepAlive(hs)
}

// stressHandler counts callbacks and fails on overlap or a second Closed.
type stressHandler struct {
	recorder
	closedN atomic.Int32
}

func (h *stressHandler) Data(c *Conn, p []byte) (int, error) {
	h.enter()
	defer h.leave()
	return len(p), nil
}

func (h *stressHandler) Closed(c *Conn, err error) {
	if h.closedN.Add(1) == 1 {
		h.recorder.Closed(c, err)
	}
}

// TestStressConcurrentControl races readiness, Wake, writes from other
// goroutines, Close and Abort on many connections (run it with -race):
// callbacks never overlap, Closed runs exactly once, nothing is left.
func TestStressConcurrentControl(t *testing.T) {
	p := newPoller(t, Config{Workers: 4, ReadBudget: 1})
	ln := listener(t)
	const n = 40
	var wg sync.WaitGroup
	hs := make([]*stressHandler, n)
	for i := range hs {
		cl, fd := pairOn(t, ln)
		hs[i] = &stressHandler{recorder: recorder{closed: make(chan struct{})}}
		c, err := p.Register(fd, hs[i], nil)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { // the client: sends, and drains what the server writes
			buf := make([]byte, 4096)
			for range 50 {
				if _, err := cl.Write(buf[:100]); err != nil {
					return
				}
			}
			cl.SetReadDeadline(time.Now().Add(10 * time.Second))
			for {
				if _, err := cl.Read(buf); err != nil {
					return
				}
			}
		})
		wg.Go(func() { // wakes and writes from outside the turn
			for range 100 {
				c.Wake()
				if _, err := c.Write(context.Background(), []byte("srv"), time.Now().Add(5*time.Second)); err != nil {
					break
				}
			}
			if i%2 == 0 {
				c.Close(nil)
			} else {
				c.Abort(nil)
			}
		})
	}
	for i, h := range hs {
		select {
		case <-h.closed:
		case <-time.After(20 * time.Second):
			t.Fatalf("conn %d: Closed did not run", i)
		}
	}
	wg.Wait()
	for i, h := range hs {
		if h.overlap || h.closedN.Load() != 1 {
			t.Fatalf("conn %d: overlap %v, Closed %d times", i, h.overlap, h.closedN.Load())
		}
	}
}

func TestRegisterBadDescriptor(t *testing.T) {
	p := newPoller(t, Config{})
	f, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := p.Register(int(f.Fd()), newEcho(), nil); err == nil { // epoll refuses regular files
		t.Fatal("registered a regular file")
	}
	if _, err := p.Register(1<<20, newEcho(), nil); err == nil {
		t.Fatal("registered a descriptor that is not open")
	}
	if s := p.Stats(); s.Conns != 0 {
		t.Fatalf("failed registrations counted: %+v", s)
	}
}

// sink consumes everything and reports when it has seen want bytes; in
// its turn after a Wake it reports whether the connection holds a buffer.
type sink struct {
	echo
	want, got int
	full      chan struct{}
	held      chan bool
}

func (s *sink) Woken(c *Conn) error {
	s.held <- c.buf != nil
	return nil
}

func (s *sink) Data(c *Conn, p []byte) (int, error) {
	if s.got += len(p); s.got == s.want {
		close(s.full)
	}
	return len(p), nil
}

// TestBurstLeavesNoBuffer: after a 1 MiB burst on each connection, idle
// connections hold no read buffer (they went back to the pool).
func TestBurstLeavesNoBuffer(t *testing.T) {
	p := newPoller(t, Config{})
	ln := listener(t)
	const n, size = 20, 1 << 20
	conns := make([]*Conn, n)
	sinks := make([]*sink, n)
	burst := make([]byte, size)
	for i := range conns {
		cl, fd := pairOn(t, ln)
		sinks[i] = &sink{echo: *newEcho(), want: size, full: make(chan struct{}), held: make(chan bool, 1)}
		var err error
		if conns[i], err = p.Register(fd, sinks[i], nil); err != nil {
			t.Fatal(err)
		}
		go cl.Write(burst) // the test's cleanup closes cl, which ends a stuck write
	}
	for i, c := range conns {
		select {
		case <-sinks[i].full:
		case <-time.After(20 * time.Second):
			t.Fatalf("conn %d: burst not received", i)
		}
		c.Wake() // Woken looks from inside the connection's turn
		if <-sinks[i].held {
			t.Fatalf("conn %d holds a read buffer after its burst", i)
		}
	}
}

// TestBlockedHandlerDoesNotStallLoop: with one loop, a handler that blocks
// (possibly on the loop goroutine, which serves the first ready
// connection of a batch itself) must not hold up the loop's other
// connections: after inlineBound another goroutine takes the loop over.
func TestBlockedHandlerDoesNotStallLoop(t *testing.T) {
	p := newPoller(t, Config{Loops: 1})
	_, _, stuck := stuckConn(t, p)
	defer close(stuck.gate)
	for range 3 {
		cl, fd := pair(t)
		if _, err := p.Register(fd, newEcho(), nil); err != nil {
			t.Fatal(err)
		}
		roundTrip(t, cl, []byte("not stalled"))
	}
}

// TestCloseWhileLoopServesInline: the stop request and a connection's data
// in one batch, the connection served by the loop goroutine itself and
// slow enough for another goroutine to take the loop over: Close must
// still see every loop goroutine exit.
func TestCloseWhileLoopServesInline(t *testing.T) {
	for range 20 {
		p, err := New(Config{Loops: 1})
		if err != nil {
			t.Fatal(err)
		}
		cl, fd := pair(t)
		r := newRecorder(true)
		if _, err := p.Register(fd, r, nil); err != nil {
			t.Fatal(err)
		}
		lp := p.loops[0]
		lp.mu.Lock() // hold the loop so that both events land in one batch
		cl.Write([]byte("x"))
		p.stopOnce.Do(func() { // what Close's first step does, here under the lock
			lp.stop = true
			one := [8]byte{1}
			unix.Write(lp.efd, one[:])
		})
		lp.mu.Unlock()
		// Both events are in one batch, but the loop may take the stop first
		// and serve nothing: then there is no inline turn to hand over, and
		// only Close is checked. (Waiting on entered without a bound hung.)
		served := false
		select {
		case <-r.entered:
			served = true
		case <-time.After(2 * time.Second):
		}
		if served && lp.inline.Load() { // served by the loop goroutine: wait for the take-over
			waitUntil(t, "the watchdog to take the loop over", func() bool { return !lp.inline.Load() })
		}
		close(r.gate)
		closed := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			closed <- p.Close(ctx)
		}()
		select {
		case err = <-closed:
		case <-time.After(15 * time.Second):
			t.Fatal("Close hung: a loop goroutine never saw the stop")
		}
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}

// goroutineCheck is an echo that checks, in every callback, that
// Conn.Goroutine is the id of the goroutine running it.
type goroutineCheck struct {
	*echo
	mu    sync.Mutex
	calls int
	bad   []string
}

func (g *goroutineCheck) check(c *Conn, where string) {
	got, want := c.Goroutine(), goid.Current()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls++
	if got != want || got == 0 {
		g.bad = append(g.bad, fmt.Sprintf("%s: Goroutine() = %d, running on %d", where, got, want))
	}
}

func (g *goroutineCheck) Data(c *Conn, p []byte) (int, error) {
	g.check(c, "Data")
	return g.echo.Data(c, p)
}

func (g *goroutineCheck) Closed(c *Conn, err error) {
	g.check(c, "Closed")
	g.echo.Closed(c, err)
}

// Conn.Goroutine names the goroutine serving the turn, whether that is a
// loop goroutine or a pool worker (many connections ready at once make
// both serve), so the engine needs no stack read per callback.
func TestGoroutineIsTheServingGoroutine(t *testing.T) {
	p := newPoller(t, Config{Loops: 1, Workers: 4})
	const n = 16
	var hs []*goroutineCheck
	var cls []net.Conn
	for range n {
		cl, fd := pair(t)
		h := &goroutineCheck{echo: newEcho()}
		if _, err := p.Register(fd, h, nil); err != nil {
			t.Fatal(err)
		}
		hs, cls = append(hs, h), append(cls, cl)
	}
	for round := range 20 {
		for _, cl := range cls { // all ready together
			cl.Write([]byte{byte(round)})
		}
		for _, cl := range cls {
			roundTripRead(t, cl, []byte{byte(round)})
		}
	}
	for i, cl := range cls {
		cl.Close()
		hs[i].waitClosed(t)
	}
	for _, h := range hs {
		h.mu.Lock()
		if len(h.bad) > 0 || h.calls < 2 {
			t.Errorf("%d callbacks, mismatches: %v", h.calls, h.bad)
		}
		h.mu.Unlock()
	}
}

// roundTripRead reads want back from cl (bounded).
func roundTripRead(t testing.TB, cl net.Conn, want []byte) {
	t.Helper()
	cl.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, len(want))
	if _, err := io.ReadFull(cl, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestIdleLoopHoldsNoThread: a loop blocks in epoll_wait on its own
// thread only while it has traffic; once idle it waits in the runtime's
// poller ("IO wait", not "syscall"), so idle loops hold no OS thread, and
// it serves the next message from there.
func TestIdleLoopHoldsNoThread(t *testing.T) {
	p := newPoller(t, Config{Loops: 2})
	cl, fd := pair(t)
	if _, err := p.Register(fd, newEcho(), nil); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	idle := func() bool {
		n := runtime.Stack(buf, true)
		waiting := 0
		for g := range bytes.SplitSeq(buf[:n], []byte("\n\n")) {
			if !bytes.Contains(g, []byte("evloop.(*loop).run")) {
				continue
			}
			if !bytes.Contains(g, []byte("[IO wait")) {
				return false // serving, or blocked in epoll_wait
			}
			waiting++
		}
		return waiting == len(p.loops)
	}
	for i := range 3 {
		roundTrip(t, cl, []byte("ping "+strconv.Itoa(i)))
		waitUntil(t, "the loops to wait in the runtime's poller", idle)
	}
}
