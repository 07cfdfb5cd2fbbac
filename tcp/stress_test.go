package tcp_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netkit-go/netkit/tcp"
)

// stressMsg returns message i of connection conn: an 8-byte header with both
// numbers, then a pattern; sizes vary from 16 bytes to about 1 KiB.
func stressMsg(conn, i int) []byte {
	size := 16 + (conn*131+i*977)%1009
	b := make([]byte, size)
	binary.BigEndian.PutUint32(b[0:], uint32(conn))
	binary.BigEndian.PutUint32(b[4:], uint32(i))
	for j := 8; j < size; j++ {
		b[j] = byte(conn + i*7 + j)
	}
	return b
}

// openFDs counts the process's open file descriptors (Linux only).
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("count fds: %v", err)
	}
	return len(ents)
}

// waitFor polls cond every few milliseconds until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

// dialMany opens n clients to l, at most 64 connects at a time.
func dialMany(t *testing.T, ctx context.Context, l *tcp.Listener, n int) []*tcp.Client {
	t.Helper()
	host, port := hostPort(t, l.Addr())
	clients := make([]*tcp.Client, n)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	var failed atomic.Bool
	for i := range clients {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := tcp.NewClient(ctx, host, port, &tcp.ClientConfig{Timeout: 30 * time.Second})
			if err != nil {
				if !failed.Swap(true) {
					t.Errorf("connect %d: %v", i, err)
				}
				return
			}
			clients[i] = c
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
	})
	if failed.Load() {
		t.FailNow()
	}
	return clients
}

// 1000 connections at once, 100 messages each, written while the echo is
// read: every byte comes back, in order.
func TestStress1000Connections(t *testing.T) {
	if testing.Short() {
		t.Skip("stress test")
	}
	const conns, msgs = 1000, 100
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	l := listen(t, tcp.EchoService, nil)
	clients := dialMany(t, ctx, l, conns)
	if fds := openFDs(t); fds > 2*conns+200 {
		t.Fatalf("%d fds open for %d connections", fds, conns)
	}

	start := make(chan struct{})
	var wg sync.WaitGroup
	var echoed atomic.Int64
	for id, c := range clients {
		wg.Add(2)
		go func() { // writer
			defer wg.Done()
			<-start
			for i := range msgs {
				if err := c.WriteBytes(ctx, stressMsg(id, i)); err != nil {
					t.Errorf("conn %d: write %d: %v", id, i, err)
					cancel()
					return
				}
			}
		}()
		go func() { // reader: the echo must be the messages in order
			defer wg.Done()
			<-start
			buf := make([]byte, 8<<10)
			for i := range msgs {
				want := stressMsg(id, i)
				for got := 0; got < len(want); {
					n, err := c.Read(ctx, buf[:min(len(buf), len(want)-got)])
					if n > 0 && !bytes.Equal(buf[:n], want[got:got+n]) {
						t.Errorf("conn %d: message %d: bytes %d..%d differ", id, i, got, got+n)
						cancel()
						return
					}
					got += n
					echoed.Add(int64(n))
					if err != nil {
						t.Errorf("conn %d: message %d: after %d bytes: %v", id, i, got, err)
						cancel()
						return
					}
				}
			}
		}()
	}
	began := time.Now()
	close(start)
	wg.Wait()
	t.Logf("%d connections x %d messages: %d bytes echoed in %v", conns, msgs, echoed.Load(), time.Since(began))
}

// countingService wraps a ConnectionService and counts the bytes OnBytes
// received and the bytes it returned for writing back.
type countingService struct {
	inner            tcp.ConnectionService
	received, echoed *atomic.Int64
}

func (s countingService) OnBytes(c *tcp.Caller, data []byte) ([]byte, error) {
	s.received.Add(int64(len(data)))
	reply, err := s.inner.OnBytes(c, data)
	s.echoed.Add(int64(len(reply)))
	return reply, err
}

// GracefulStop during traffic: each client writes a message and reads its
// echo in a loop. Every client ends with the server's FIN (io.EOF, never a
// reset), what came back is exactly a prefix of what it sent with at most the
// message in flight missing, and every byte the server received was echoed.
func TestGracefulStopDuringTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("stress test")
	}
	const clients, warmup, maxMsgs = 200, 20, 100_000
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var received, echoed atomic.Int64
	l := listen(t, tcp.ServiceFunc(func(*tcp.Caller) (tcp.ConnectionService, error) {
		return countingService{inner: tcp.Echo, received: &received, echoed: &echoed}, nil
	}), nil)
	conns := dialMany(t, ctx, l, clients)

	var warm, done sync.WaitGroup
	warm.Add(clients)
	var clientEchoed, partial, unechoed atomic.Int64
	for id, c := range conns {
		done.Add(1)
		go func() {
			defer done.Done()
			warmed := false
			defer func() {
				if !warmed {
					warm.Done()
				}
			}()
			buf := make([]byte, 4<<10)
			for k := 0; k < maxMsgs; k++ {
				if k == warmup {
					warmed = true
					warm.Done()
				}
				msg := stressMsg(id, k)
				if err := c.WriteBytes(ctx, msg); err != nil {
					if ctx.Err() == nil { // else the test already failed
						t.Errorf("client %d: write of message %d failed (the server must linger until our EOF): %v", id, k, err)
					}
					return
				}
				for got := 0; got < len(msg); {
					n, err := c.Read(ctx, buf[:min(len(buf), len(msg)-got)])
					if n > 0 && !bytes.Equal(buf[:n], msg[got:got+n]) {
						t.Errorf("client %d: message %d: echo is not a prefix of what was sent", id, k)
						cancel()
						return
					}
					got += n
					clientEchoed.Add(int64(n))
					if errors.Is(err, io.EOF) {
						// The server's FIN. Only this message may be short.
						if got > 0 {
							partial.Add(1)
						}
						unechoed.Add(int64(len(msg) - got))
						if n, err := c.Read(ctx, buf); n != 0 || !errors.Is(err, io.EOF) {
							t.Errorf("client %d: after EOF: %d bytes, %v", id, n, err)
						}
						if err := c.Close(); err != nil {
							t.Errorf("client %d: close: %v", id, err)
						}
						return
					}
					if err != nil {
						if ctx.Err() == nil {
							t.Errorf("client %d: message %d: %v (want the echo or io.EOF, never a reset)", id, k, err)
						}
						return
					}
				}
			}
			t.Errorf("client %d: no FIN after %d messages", id, maxMsgs)
		}()
	}
	warm.Wait() // every client is in its loop
	if t.Failed() {
		cancel()
		done.Wait()
		return
	}
	if err := l.GracefulStop(ctx); err != nil {
		t.Errorf("GracefulStop: %v", err)
	}
	done.Wait()
	if r, e, c := received.Load(), echoed.Load(), clientEchoed.Load(); r != e || e != c {
		t.Fatalf("server received %d bytes, echoed %d; clients got %d back", r, e, c)
	}
	t.Logf("%d clients: %d bytes echoed; at the stop %d messages were cut short, %d bytes unechoed in flight",
		clients, clientEchoed.Load(), partial.Load(), unechoed.Load())
}

// 10,000 connect/echo/close cycles leave no goroutine and no descriptor.
func TestConnectEchoCloseCyclesLeaveNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("stress test")
	}
	const cycles, workers = 10_000, 4
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	linux := runtime.GOOS == "linux"
	baseG := runtime.NumGoroutine()
	baseFD := 0
	if linux {
		baseFD = openFDs(t)
	}

	l := listen(t, tcp.EchoService, nil)
	host, port := hostPort(t, l.Addr())
	var wg sync.WaitGroup
	var next atomic.Int64
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := []byte("cycle 0123456789")
			buf := make([]byte, len(msg))
			for next.Add(1) <= cycles && ctx.Err() == nil {
				c, err := tcp.NewClient(ctx, host, port, nil)
				if err != nil {
					t.Errorf("connect: %v", err)
					cancel()
					return
				}
				err = c.WriteBytes(ctx, msg)
				got := 0
				for err == nil && got < len(msg) {
					var n int
					n, err = c.Read(ctx, buf[got:])
					got += n
				}
				if cerr := c.Close(); err == nil {
					err = cerr
				}
				if err != nil || !bytes.Equal(buf, msg) {
					t.Errorf("cycle: %q, %v", buf[:got], err)
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if err := l.GracefulStop(ctx); err != nil {
		t.Fatal(err)
	}
	if !waitFor(5*time.Second, func() bool { return runtime.NumGoroutine() <= baseG }) {
		t.Errorf("goroutines: %d before, %d after", baseG, runtime.NumGoroutine())
	}
	if linux && !waitFor(5*time.Second, func() bool { return openFDs(t) <= baseFD }) {
		t.Errorf("open fds: %d before, %d after", baseFD, openFDs(t))
	}
}

// A client that never reads while the server writes 1 MiB chunks from 8
// goroutines: writers time out or find the queue full instead of buffering,
// the heap stays bounded, and the connection still closes cleanly.
func TestSlowReaderHeapBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("stress test")
	}
	const writers, attempts, chunk = 8, 16, 1 << 20
	callers := make(chan *tcp.Caller, 1)
	closes := make(chan struct{}, 2)
	l := listen(t, tcp.ServiceFunc(func(c *tcp.Caller) (tcp.ConnectionService, error) {
		callers <- c
		return onCloseFunc{tcp.Echo, func() { closes <- struct{}{} }}, nil
	}), &tcp.ListenerConfig{WriteTimeout: 200 * time.Millisecond, MaxPendingWrites: 2})
	c := dial(t, l, &tcp.ClientConfig{Timeout: 10 * time.Second})
	caller := <-callers

	data := bytes.Repeat([]byte{'s'}, chunk)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	sample := func() {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		for {
			p := peak.Load()
			if m.HeapInuse <= p || peak.CompareAndSwap(p, m.HeapInuse) {
				return
			}
		}
	}

	var timeouts, queueFull, closed, written atomic.Int64
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for range attempts {
				err := caller.WriteBytes(context.Background(), data)
				sample()
				switch {
				case err == nil:
					written.Add(chunk)
					continue
				case errors.Is(err, tcp.ErrSendQueueFull):
					queueFull.Add(1)
				case errors.Is(err, os.ErrDeadlineExceeded):
					timeouts.Add(1)
				case errors.Is(err, net.ErrClosed):
					closed.Add(1)
				default:
					t.Errorf("writer %d: unexpected error %v", w, err)
				}
				return // a writer stops at its first refusal
			}
			t.Errorf("writer %d: wrote %d MiB to a peer that never reads", w, attempts)
		}()
	}
	began := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(began)
	growth := int64(peak.Load()) - int64(base)
	t.Logf("%v: %d MiB accepted by the kernel; %d timeouts, %d queue full, %d closed; heap growth %d KiB",
		elapsed, written.Load()>>20, timeouts.Load(), queueFull.Load(), closed.Load(), growth>>10)
	if timeouts.Load() == 0 || queueFull.Load() == 0 {
		t.Errorf("want both write timeouts and ErrSendQueueFull")
	}
	if growth > 64<<20 {
		t.Errorf("heap grew by %d MiB", growth>>20)
	}
	if elapsed > 10*time.Second {
		t.Errorf("writers took %v", elapsed)
	}

	// Close: the client reads what the kernel holds, then the FIN.
	caller.Close()
	buf := make([]byte, 256<<10)
	var drained int64
	var err error
	for err == nil {
		var n int
		n, err = c.Read(testCtx(t), buf)
		drained += int64(n)
	}
	if !errors.Is(err, io.EOF) {
		t.Fatalf("after %d bytes: %v, want io.EOF", drained, err)
	}
	if drained > written.Load()+int64(writers)*chunk {
		t.Fatalf("drained %d bytes, more than was written", drained)
	}
	c.Close()
	select {
	case <-closes:
	case <-time.After(10 * time.Second):
		t.Fatal("OnClose not called")
	}
	select {
	case <-closes:
		t.Fatal("OnClose called twice")
	default:
	}
}

// onCloseFunc adds an OnClose hook to a ConnectionService.
type onCloseFunc struct {
	tcp.ConnectionService
	f func()
}

func (s onCloseFunc) OnClose(*tcp.Caller) { s.f() }

// A write that times out after some bytes closes the connection; later reads
// and writes then report the connection closed (net.ErrClosed), not a
// timeout that would invite a retry on a dead connection.
func TestClientAfterPartialWriteTimeoutIsClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		nc, _ := ln.Accept() // a peer that never reads
		accepted <- nc
	}()
	_, port := hostPort(t, ln.Addr())
	c, err := tcp.NewClient(testCtx(t), "127.0.0.1", port, &tcp.ClientConfig{WriteTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if nc := <-accepted; nc != nil {
		defer nc.Close()
	}
	err = c.WriteBytes(context.Background(), make([]byte, 64<<20)) // more than the kernel buffers
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("partial write: %v, want a timeout that closed the connection", err)
	}
	_, rerr := c.Read(context.Background(), make([]byte, 16))
	werr := c.WriteBytes(context.Background(), []byte("x"))
	for _, err := range []error{rerr, werr} {
		var to interface{ Timeout() bool }
		if !errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &to) && to.Timeout() {
			t.Errorf("after the connection closed: %v, want net.ErrClosed and no timeout", err)
		}
	}
}

// Caller.Close inside OnBytes, with GracefulStop starting before the callback
// returns: the reply is written, then nothing more. Data that arrived
// meanwhile is not handed to OnBytes after Close (the listener's drain of
// already received data is for connections that are still open).
func TestCloseInCallbackRacingGracefulStop(t *testing.T) {
	var l *tcp.Listener
	var calls atomic.Int32
	inCallback, proceed := make(chan struct{}), make(chan struct{})
	stopped := make(chan error, 1)
	l = listen(t, tcp.ServiceFunc(func(*tcp.Caller) (tcp.ConnectionService, error) {
		return tcp.BytesFunc(func(c *tcp.Caller, data []byte) ([]byte, error) {
			if calls.Add(1) > 1 {
				t.Errorf("OnBytes(%q) after Caller.Close", data)
				return []byte(" and a reply after Close"), nil
			}
			c.Close()
			close(inCallback)
			<-proceed // the client's second write has arrived
			go func() { stopped <- l.GracefulStop(context.Background()) }()
			<-c.Context().Done() // the listener is stopping
			return []byte("reply"), nil
		}), nil
	}), nil)
	c := dial(t, l, nil)
	if err := c.WriteBytes(testCtx(t), []byte("first")); err != nil {
		t.Fatal(err)
	}
	<-inCallback
	if err := c.WriteBytes(testCtx(t), []byte("second")); err != nil {
		t.Fatal(err)
	}
	close(proceed)
	if got := readToEOF(t, c); string(got) != "reply" {
		t.Errorf("client got %q, want %q", got, "reply")
	}
	c.Close()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}
