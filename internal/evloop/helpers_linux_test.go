//go:build linux

package evloop

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// newPoller makes a poller that the test closes (and checks) at cleanup.
func newPoller(t testing.TB, cfg Config) *Poller {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Poller.Close: %v", err)
		}
		if s := p.Stats(); s.Workers != 0 || s.Conns != 0 {
			t.Errorf("after Close: %+v", s)
		}
	})
	return p
}

// listener is a loopback listener closed at cleanup.
func listener(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// pairOn dials ln and detaches the accepted side: the client net.Conn
// (closed at cleanup) and the server's descriptor, owned by the caller.
func pairOn(t testing.TB, ln net.Listener) (net.Conn, int) {
	t.Helper()
	cl, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := Detach(sc)
	if err != nil {
		t.Fatal(err)
	}
	return cl, fd
}

func pair(t testing.TB) (net.Conn, int) { return pairOn(t, listener(t)) }

// echo writes back what it is handed and records how the connection ended.
type echo struct {
	closed chan struct{}
	err    error
	eof    func(c *Conn) error // nil: close with io.EOF
}

func newEcho() *echo { return &echo{closed: make(chan struct{})} }

func (e *echo) Data(c *Conn, p []byte) (int, error) {
	if _, err := c.Write(context.Background(), p, time.Time{}); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (e *echo) EOF(c *Conn) error {
	if e.eof != nil {
		return e.eof(c)
	}
	return io.EOF
}

func (e *echo) Closed(c *Conn, err error) {
	e.err = err
	close(e.closed)
}

// waitClosed waits (bounded) for Closed and returns its cause.
func (e *echo) waitClosed(t testing.TB) error {
	t.Helper()
	select {
	case <-e.closed:
		return e.err
	case <-time.After(10 * time.Second):
		t.Fatal("Closed did not run within 10s")
		return nil
	}
}

// roundTrip writes msg and reads the same bytes back.
func roundTrip(t testing.TB, cl net.Conn, msg []byte) {
	t.Helper()
	cl.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := cl.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(cl, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("echo: got %q, want %q", got, msg)
	}
}

// waitUntil polls cond (bounded by 10 s) for states that have no event to
// wait on, such as a worker goroutine parking.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for d := 100 * time.Microsecond; !cond(); d = min(2*d, 10*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(d)
	}
}

// recorder is a handler that checks that callbacks of its connection
// never overlap, and records the stream in arrival order.
type recorder struct {
	mu      sync.Mutex
	inside  bool
	overlap bool
	got     []byte
	wakes   int
	gate    chan struct{} // if set, the first Data waits on it
	entered chan struct{} // closed when the first Data begins
	closed  chan struct{}
	err     error
}

func (r *recorder) enter() {
	r.mu.Lock()
	if r.inside {
		r.overlap = true
	}
	r.inside = true
	r.mu.Unlock()
}

func (r *recorder) leave() {
	r.mu.Lock()
	r.inside = false
	r.mu.Unlock()
}

func (r *recorder) Data(c *Conn, p []byte) (int, error) {
	r.enter()
	defer r.leave()
	if r.gate != nil {
		close(r.entered)
		<-r.gate
		r.gate = nil
	}
	r.mu.Lock()
	r.got = append(r.got, p...)
	r.mu.Unlock()
	return len(p), nil
}

func (r *recorder) Woken(c *Conn) error {
	r.enter()
	defer r.leave()
	r.mu.Lock()
	r.wakes++
	r.mu.Unlock()
	return nil
}

func (r *recorder) EOF(c *Conn) error { r.enter(); r.leave(); return io.EOF }

func (r *recorder) Closed(c *Conn, err error) {
	r.enter()
	r.err = err
	r.leave()
	close(r.closed)
}

// newRecorder makes a recorder; a gated one holds its first Data call
// until gate is closed.
func newRecorder(gated bool) *recorder {
	r := &recorder{closed: make(chan struct{})}
	if gated {
		r.gate, r.entered = make(chan struct{}), make(chan struct{})
	}
	return r
}

// stuckConn registers a connection whose first Data call is held (until
// r.gate is closed) and returns once that call has begun.
func stuckConn(t *testing.T, p *Poller) (net.Conn, *Conn, *recorder) {
	t.Helper()
	cl, fd := pair(t)
	r := newRecorder(true)
	c, err := p.Register(fd, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	<-r.entered
	return cl, c, r
}
