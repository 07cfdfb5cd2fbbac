package engine_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/engine"
)

// Tests for the engine additions used by the websocket face: TimerFace,
// AdoptBuffered/SetBuffered and the exposed write lock.

// timerFace records data and fires a timer every period until told to
// close.
type timerFace struct {
	period time.Duration
	next   time.Time
	fired  atomic.Int32
	data   chan string
	closed chan error
	stopAt int32
}

func (f *timerFace) Open(c *engine.Conn) error { f.next = time.Now().Add(f.period); return nil }
func (f *timerFace) Data(c *engine.Conn, p []byte) (int, error) {
	f.data <- string(p)
	return len(p), nil
}
func (f *timerFace) Closed(c *engine.Conn, err error) { f.closed <- err }
func (f *timerFace) NextTimer() time.Time             { return f.next }
func (f *timerFace) Timer(c *engine.Conn) error {
	if f.fired.Add(1) >= f.stopAt {
		return engine.ErrCloseGracefully
	}
	f.next = time.Now().Add(f.period)
	return nil
}

// adoptPair adopts the server end of a loopback connection into srv with
// face and the pre-read bytes, and returns the client end.
func adoptPair(t *testing.T, srv *engine.Server, face engine.Face, buffered []byte) net.Conn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if srv.AdoptBuffered(nc, face, buffered) == nil {
		t.Fatal("AdoptBuffered refused")
	}
	return client
}

func TestTimerFace(t *testing.T) {
	srv := engine.NewServer(engine.Config{})
	f := &timerFace{period: 30 * time.Millisecond, data: make(chan string, 8), closed: make(chan error, 1), stopAt: 3}
	client := adoptPair(t, srv, f, []byte("pre"))
	if got := <-f.data; got != "pre" {
		t.Fatalf("buffered bytes: %q", got)
	}
	client.Write([]byte("live"))
	select {
	case got := <-f.data:
		if got != "live" {
			t.Fatalf("data %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no data")
	}
	// The timer fires three times on an idle connection, then closes it
	// gracefully: the client sees EOF.
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [1]byte
	if _, err := client.Read(b[:]); err == nil {
		t.Fatal("read data instead of EOF")
	}
	client.Close()
	select {
	case <-f.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Closed not called")
	}
	if n := f.fired.Load(); n != 3 {
		t.Fatalf("timer fired %d times", n)
	}
	srv.ImmediateStop()
}

func TestSetBufferedPullRead(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c := engine.NewConn(nc, engine.ConnConfig{})
	defer c.Close(nil)
	c.SetBuffered([]byte("abc"))
	client.Write([]byte("def"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var got []byte
	buf := make([]byte, 2)
	for len(got) < 6 {
		n, err := c.Read(ctx, buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != "abcdef" {
		t.Fatalf("got %q", got)
	}
}

func TestWriteLock(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c := engine.NewConn(nc, engine.ConnConfig{})
	defer c.Close(nil)
	ctx := context.Background()
	if err := c.LockWrite(ctx); err != nil {
		t.Fatal(err)
	}
	if c.TryLockWrite() {
		t.Fatal("TryLockWrite succeeded while held")
	}
	waiter := make(chan error, 1)
	go func() {
		err := c.LockWrite(ctx)
		if err == nil {
			c.UnlockWrite()
		}
		waiter <- err
	}()
	bufs := net.Buffers{[]byte("he"), []byte("ld")}
	if _, err := c.WriteBuffersHeld(ctx, &bufs); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteHeld(ctx, []byte("!")); err != nil {
		t.Fatal(err)
	}
	c.UnlockWrite()
	if err := <-waiter; err != nil {
		t.Fatal(err)
	}
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 5)
	n := 0
	for n < 5 {
		k, err := client.Read(buf[n:])
		if err != nil {
			t.Fatal(err)
		}
		n += k
	}
	if string(buf) != "held!" {
		t.Fatalf("got %q", buf)
	}
}

// upgradeFace serves like the websocket Listener's HTTP face: Serve reads
// the "request" with a context derived from the connection's, then
// Becomes next.
type upgradeFace struct {
	next   engine.StreamFace
	served chan context.Context
}

func (f upgradeFace) Serve(c *engine.Conn) {
	ctx, cancel := context.WithTimeout(c.Context(), 10*time.Second)
	defer cancel()
	p := make([]byte, 3)
	if _, err := c.Read(ctx, p); err != nil {
		return
	}
	f.served <- c.Context()
	c.Become(f.next, nil, nil)
}

// openFace reports, from Open, whether the connection still holds the
// context of the face before it, then the context Open took and Closed.
type openFace struct {
	held   chan bool
	ctx    chan context.Context
	closed chan struct{}
}

func (f *openFace) Open(c *engine.Conn) error {
	f.held <- engine.HoldsContext(c)
	f.ctx <- c.Context()
	return nil
}
func (f *openFace) Data(c *engine.Conn, p []byte) (int, error) { return len(p), nil }
func (f *openFace) Closed(c *engine.Conn, err error)           { close(f.closed) }

// TestBecomeDropsContext: once a ConnFace's Serve has returned after
// Become, the connection no longer holds the context Serve used (an idle
// upgraded WebSocket kept it, with the children map its request grew, for
// its whole life), and that context is cancelled; Context in the next
// face makes a new one, cancelled when the connection ends.
func TestBecomeDropsContext(t *testing.T) {
	srv := engine.NewServer(engine.Config{})
	defer srv.ImmediateStop()
	of := &openFace{held: make(chan bool, 1), ctx: make(chan context.Context, 1), closed: make(chan struct{})}
	uf := upgradeFace{next: of, served: make(chan context.Context, 1)}
	client := adoptPair(t, srv, uf, nil)
	if _, err := client.Write([]byte("GET")); err != nil {
		t.Fatal(err)
	}
	select {
	case held := <-of.held:
		if held {
			t.Error("the upgraded connection still holds the context its upgrade used")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no Open")
	}
	if old := <-uf.served; !errors.Is(old.Err(), context.Canceled) {
		t.Errorf("the context of Serve after Serve: %v, want it cancelled", old.Err())
	}
	ctx := <-of.ctx
	if ctx.Err() != nil {
		t.Fatalf("the next face's context is done at Open: %v", context.Cause(ctx))
	}
	client.Close()
	select {
	case <-of.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("no Closed")
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the next face's context was not cancelled when the connection ended")
	}
}
