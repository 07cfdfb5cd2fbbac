package socket_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/socket"
)

// ---- 0.990 services (push) -------------------------------------------------

// echo0990 is the seed's 0.990 echo server: onAccept, onReadReady writing the
// content back, onClose, onError.
type echo0990 struct {
	accepted chan int // remote ports
	closed   chan int
	errs     chan error
}

func newEcho0990() *echo0990 {
	return &echo0990{accepted: make(chan int, 16), closed: make(chan int, 16), errs: make(chan error, 16)}
}

func (s *echo0990) OnAccept(c *socket.Caller) { s.accepted <- c.RemotePort() }
func (s *echo0990) OnReadReady(c *socket.Caller, content []byte) {
	c.Write(context.Background(), content)
}
func (s *echo0990) OnClose(c *socket.Caller)            { s.closed <- c.RemotePort() }
func (s *echo0990) OnError(c *socket.Caller, err error) { s.errs <- err }

// collector0990 is a 0.990 client callback service that collects what it
// receives.
type collector0990 struct {
	connected chan int
	data      chan []byte
	closed    chan struct{}
}

func newCollector0990() *collector0990 {
	return &collector0990{connected: make(chan int, 1), data: make(chan []byte, 64), closed: make(chan struct{}, 4)}
}

func (s *collector0990) OnConnect(c *socket.Caller) { s.connected <- c.RemotePort() }
func (s *collector0990) OnReadReady(c *socket.Caller, content []byte) {
	s.data <- bytes.Clone(content)
}
func (s *collector0990) OnClose(c *socket.Caller) { s.closed <- struct{}{} }

// collect reads n bytes from data chunks.
func collect(t *testing.T, ch <-chan []byte, n int) string {
	t.Helper()
	var b []byte
	for len(b) < n {
		b = append(b, recv(t, ch)...)
	}
	return string(b)
}

// §1.4 / §2.6: one-way write to a mock server, received exactly.
func TestOneWayWrite(t *testing.T) {
	for _, tc := range []struct {
		name string
		svc  socket.Service
	}{
		{"1x client", nil},
		{"0990 callback client", newCollector0990()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan string, 1)
			port := mockServer(t, func(nc net.Conn) {
				b, _ := io.ReadAll(nc)
				got <- string(b)
			})
			c := newClient(t, port, socket.ClientConfig{CallbackService: tc.svc})
			n, err := c.Write(testCtx(t), []byte("Hello Ballerina\n"))
			if err != nil || n != 16 {
				t.Fatalf("Write = %d, %v; want 16, nil", n, err)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if s := recv(t, got); s != "Hello Ballerina\n" {
				t.Fatalf("server received %q", s)
			}
		})
	}
}

// §1.4 / §2.6: a write after shutdownWrite fails with Ballerina's message and
// the server saw only the first message.
func TestShutdownWriteThenWrite(t *testing.T) {
	got := make(chan string, 1)
	port := mockServer(t, func(nc net.Conn) {
		b, _ := io.ReadAll(nc) // returns at the client's FIN
		got <- string(b)
	})
	c := newClient(t, port, socket.ClientConfig{})
	ctx := testCtx(t)
	if _, err := c.Write(ctx, []byte("Hello Ballerina")); err != nil {
		t.Fatal(err)
	}
	if err := c.ShutdownWrite(); err != nil {
		t.Fatal(err)
	}
	n, err := c.Write(ctx, []byte("second"))
	if err == nil || n != 0 {
		t.Fatalf("Write after ShutdownWrite = %d, %v; want an error", n, err)
	}
	if err.Error() != "client socket close already." {
		t.Fatalf("message %q", err.Error())
	}
	var ge *socket.GenericError
	if !errors.As(err, &ge) || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("error %#v is not a GenericError matching net.ErrClosed", err)
	}
	if s := recv(t, got); s != "Hello Ballerina" {
		t.Fatalf("server received %q", s)
	}
}

// §1.4: echo server (0.990 listener): what is sent is echoed; OnAccept sees
// the client's port, OnClose runs when the client leaves.
func TestEchoServer0990(t *testing.T) {
	svc := newEcho0990()
	l := listen(t, svc, nil)
	c := newClient(t, l.Port(), socket.ClientConfig{})
	if p := recv(t, svc.accepted); p != c.LocalPort() {
		t.Fatalf("OnAccept saw remote port %d, client's local port is %d", p, c.LocalPort())
	}
	ctx := testCtx(t)
	for _, msg := range []string{"Hello Ballerina", "x", strings.Repeat("ab", 5000)} {
		if _, err := c.Write(ctx, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		b, err := c.Read(ctx, len(msg))
		if err != nil || string(b) != msg {
			t.Fatalf("echo of %d bytes: got %d bytes, %v", len(msg), len(b), err)
		}
	}
	port := c.LocalPort()
	c.Close()
	if p := recv(t, svc.closed); p != port {
		t.Fatalf("OnClose for port %d, want %d", p, port)
	}
	select {
	case err := <-svc.errs:
		t.Fatalf("unexpected OnError: %v", err)
	default:
	}
}

// §1.4 / §2.6: two listeners on one port: the second start fails.
func TestDuplicatePort(t *testing.T) {
	l1 := listen(t, newEcho0990(), nil)
	l2, err := socket.NewListener(l1.Port(), &socket.ListenerConfig{Interface: "127.0.0.1", Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	if err := l2.Attach(newEcho0990()); err != nil {
		t.Fatal(err)
	}
	err = l2.Start()
	if err == nil {
		l2.ImmediateStop()
		t.Fatal("second Start on the same port succeeded")
	}
	if err.Error() != "unable to start the socket service: Address already in use" {
		t.Fatalf("message %q", err.Error())
	}
	var ge *socket.GenericError
	if !errors.As(err, &ge) || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("error %#v is not a GenericError matching EADDRINUSE", err)
	}
}

// §1.4: a 0.990 client with a callback service talking to an echo server; its
// Close dispatches OnClose (as Ballerina's did), and the server's OnClose runs.
func TestClient0990CallbackEcho(t *testing.T) {
	srv := newEcho0990()
	l := listen(t, srv, nil)
	cs := newCollector0990()
	c := newClient(t, l.Port(), socket.ClientConfig{CallbackService: cs})
	if p := recv(t, cs.connected); p != l.Port() {
		t.Fatalf("OnConnect saw remote port %d, want %d", p, l.Port())
	}
	if _, err := c.Write(testCtx(t), []byte("Hello Ballerina\n")); err != nil {
		t.Fatal(err)
	}
	if s := collect(t, cs.data, 16); s != "Hello Ballerina\n" {
		t.Fatalf("client received %q", s)
	}
	if _, err := c.Read(testCtx(t), socket.ReadAvailable); !errors.Is(err, socket.ErrPushMode) {
		t.Fatalf("Read on a push client = %v, want ErrPushMode", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select { // Close waited for OnClose
	case <-cs.closed:
	default:
		t.Fatal("Client.Close returned before OnClose ran")
	}
	recv(t, srv.closed)
	if _, err := c.Write(testCtx(t), []byte("x")); err == nil || err.Error() != "client socket close already." {
		t.Fatalf("Write after Close = %v", err)
	}
	if len(cs.closed) != 0 {
		t.Fatal("OnClose ran twice")
	}
}

// 0.990: Caller.Close inside OnReadReady: the reply written before it
// arrives, then the peer sees EOF; OnClose runs once.
func TestCloseInOnReadReady0990(t *testing.T) {
	closed := make(chan struct{}, 4)
	svc := &closer0990{closed: closed}
	l := listen(t, svc, nil)
	nc := dialRaw(t, l)
	nc.Write([]byte("bye"))
	b, err := io.ReadAll(nc)
	if err != nil || string(b) != "bye" {
		t.Fatalf("peer read %q, %v; want the reply then EOF", b, err)
	}
	nc.Close() // the server lingers for our EOF before it closes
	recv(t, closed)
	l.ImmediateStop()
	if len(closed) != 0 {
		t.Fatal("OnClose ran twice")
	}
}

type closer0990 struct{ closed chan struct{} }

func (s *closer0990) OnReadReady(c *socket.Caller, content []byte) {
	c.Write(context.Background(), content)
	c.Close()
}
func (s *closer0990) OnClose(c *socket.Caller) { s.closed <- struct{}{} }

// ---- 1.x services (pull) ---------------------------------------------------

// echo1x is the seed's 1.x listener: onConnect, onReadReady reading with
// caller->read() and writing back.
type echo1x struct {
	connected chan int
	errs      chan error
}

func (s *echo1x) OnConnect(c *socket.Caller) {
	if s.connected != nil {
		s.connected <- c.RemotePort()
	}
}
func (s *echo1x) OnReadReady(c *socket.Caller) {
	b, err := c.Read(context.Background(), socket.ReadAvailable)
	if err != nil {
		c.Close()
		return
	}
	c.Write(context.Background(), b)
}
func (s *echo1x) OnError(c *socket.Caller, err error) { s.errs <- err }

// §2.6: echo server (1.x listener).
func TestEchoServer1x(t *testing.T) {
	svc := &echo1x{connected: make(chan int, 1), errs: make(chan error, 1)}
	l := listen(t, svc, nil)
	nc := dialRaw(t, l)
	if p := recv(t, svc.connected); p != nc.LocalAddr().(*net.TCPAddr).Port {
		t.Fatalf("OnConnect saw port %d", p)
	}
	for _, msg := range []string{"Hello Ballerina", "again", strings.Repeat("z", 100000)} {
		nc.Write([]byte(msg))
		if s := readFull(t, nc, len(msg)); s != msg {
			t.Fatalf("echo of %d bytes differs", len(msg))
		}
	}
	nc.CloseWrite()
	if b, err := io.ReadAll(nc); err != nil || len(b) != 0 {
		t.Fatalf("after EOF the server sent %q, %v; want its EOF", b, err)
	}
}

// §2.6: client echo through a mock server with write + read().
func TestClientEcho1x(t *testing.T) {
	port := mockServer(t, func(nc net.Conn) { io.Copy(nc, nc) })
	c := newClient(t, port, socket.ClientConfig{})
	ctx := testCtx(t)
	c.Write(ctx, []byte("Hello Ballerina"))
	var got []byte
	for len(got) < 15 {
		b, err := c.Read(ctx, socket.ReadAvailable)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, b...)
	}
	if string(got) != "Hello Ballerina" {
		t.Fatalf("got %q", got)
	}
	c.Write(ctx, []byte("0123456789"))
	if b, err := c.Read(ctx, 4); err != nil || string(b) != "0123" {
		t.Fatalf("Read(4) = %q, %v", b, err)
	}
	if b, err := c.Read(ctx, 6); err != nil || string(b) != "456789" {
		t.Fatalf("Read(6) = %q, %v", b, err)
	}
}

// §2.6: read(0) and other lengths below 1 are errors.
func TestReadInvalidLength(t *testing.T) {
	port := mockServer(t, func(nc net.Conn) { io.Copy(io.Discard, nc) })
	c := newClient(t, port, socket.ClientConfig{})
	for _, n := range []int{0, -1, -99, -101} {
		_, err := c.Read(testCtx(t), n)
		if err == nil || err.Error() != "requested byte length need to be 1 or more" {
			t.Fatalf("Read(%d) = %v", n, err)
		}
		if !errors.Is(err, socket.ErrInvalidLength) {
			t.Fatalf("Read(%d) error is not ErrInvalidLength", n)
		}
	}
}

// §2.6: connecting to a closed port fails with "Connection refused".
func TestConnectRefused(t *testing.T) {
	port := netkittest.ClosedPort(t)
	c, err := socket.NewClient(testCtx(t), socket.ClientConfig{Host: "127.0.0.1", Port: port})
	if err == nil {
		c.Close()
		t.Fatal("connected to a closed port")
	}
	if !strings.HasPrefix(err.Error(), "unable to start the client socket: Connection refused") {
		t.Fatalf("message %q", err.Error())
	}
	var ge *socket.GenericError
	if !errors.As(err, &ge) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("error %#v is not a GenericError matching ECONNREFUSED", err)
	}
}

// partialReads reads 5, 4 and 6 bytes and answers "Hello Client"; it also
// checks that OnReadReady never runs twice at once.
type partialReads struct {
	inflight sync.Map // connection id -> *atomic.Int32
	overlap  atomic.Bool
	parts    chan []string
}

func (s *partialReads) OnReadReady(c *socket.Caller) {
	v, _ := s.inflight.LoadOrStore(c.ID(), new(atomic.Int32))
	n := v.(*atomic.Int32)
	if n.Add(1) != 1 {
		s.overlap.Store(true)
	}
	defer n.Add(-1)
	ctx := context.Background()
	var parts []string
	for _, n := range []int{5, 4, 6} {
		b, err := c.Read(ctx, n)
		if err != nil {
			c.Close()
			return
		}
		parts = append(parts, string(b))
	}
	s.parts <- parts
	c.Write(ctx, []byte("Hello Client"))
}

// §2.6: partial reads read(5), read(4), read(6) add up to the 15 bytes sent,
// whether they arrive at once or byte by byte, and the server replies.
func TestPartialReads(t *testing.T) {
	svc := &partialReads{parts: make(chan []string, 4)}
	l := listen(t, svc, nil)
	for _, split := range []bool{false, true} {
		nc := dialRaw(t, l)
		nc.SetNoDelay(true)
		msg := "Hello Ballerina"
		if split {
			for i := range len(msg) {
				nc.Write([]byte{msg[i]})
			}
		} else {
			nc.Write([]byte(msg))
		}
		parts := recv(t, svc.parts)
		if strings.Join(parts, "|") != "Hello| Bal|lerina" {
			t.Fatalf("split=%v: parts %q", split, parts)
		}
		if s := readFull(t, nc, 12); s != "Hello Client" {
			t.Fatalf("reply %q", s)
		}
		nc.Close()
	}
	if svc.overlap.Load() {
		t.Fatal("OnReadReady ran twice at once")
	}
}

// blockingRead reads 18 bytes in one call.
type blockingRead struct {
	started chan struct{}
	calls   atomic.Int32
}

func (s *blockingRead) OnReadReady(c *socket.Caller) {
	s.calls.Add(1)
	s.started <- struct{}{}
	b, err := c.Read(context.Background(), 18)
	if err != nil {
		c.Close()
		return
	}
	c.Write(context.Background(), b)
}

// §2.6: read(length=18) waits for two client writes, "ThisIs" and
// "BlockingRead".
func TestBlockingRead(t *testing.T) {
	svc := &blockingRead{started: make(chan struct{}, 4)}
	l := listen(t, svc, nil)
	c := newClient(t, l.Port(), socket.ClientConfig{})
	ctx := testCtx(t)
	c.Write(ctx, []byte("ThisIs"))
	recv(t, svc.started) // the server is in OnReadReady, reading
	c.Write(ctx, []byte("BlockingRead"))
	b, err := c.Read(ctx, 18)
	if err != nil || string(b) != "ThisIsBlockingRead" {
		t.Fatalf("reply %q, %v", b, err)
	}
	if n := svc.calls.Load(); n != 1 {
		t.Fatalf("OnReadReady ran %d times, want 1", n)
	}
}

// panicky panics in OnReadReady.
type panicky struct {
	errs   chan error
	closed chan struct{}
}

func (s *panicky) OnReadReady(c *socket.Caller)      { panic("boom") }
func (s *panicky) OnError(c *socket.Caller, e error) { s.errs <- e }

type panicky0990 struct{ panicky }

func (s *panicky0990) OnReadReady(c *socket.Caller, content []byte) { panic("boom") }
func (s *panicky0990) OnClose(c *socket.Caller)                     { s.closed <- struct{}{} }

// §2.6: a panic in onReadReady reaches onError with "Error while on read";
// the connection is then closed (the process and the listener live on).
func TestPanicInOnReadReady(t *testing.T) {
	p1x := &panicky{errs: make(chan error, 4), closed: make(chan struct{}, 4)}
	p0990 := &panicky0990{panicky{errs: make(chan error, 4), closed: make(chan struct{}, 4)}}
	for _, tc := range []struct {
		name string
		svc  socket.Service
		p    *panicky
	}{
		{"1x", p1x, p1x},
		{"0990", p0990, &p0990.panicky},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := listen(t, tc.svc, nil)
			for range 2 { // the listener survives the first
				nc := dialRaw(t, l)
				nc.Write([]byte("hi"))
				err := recv(t, tc.p.errs)
				if err.Error() != "Error while on read" {
					t.Fatalf("OnError message %q", err.Error())
				}
				var ge *socket.GenericError
				var pe *socket.PanicError
				if !errors.As(err, &ge) || !errors.As(err, &pe) || pe.Value != "boom" {
					t.Fatalf("OnError got %#v", err)
				}
				if b, err := io.ReadAll(nc); err != nil || len(b) != 0 {
					t.Fatalf("peer read %q, %v; want EOF", b, err)
				}
				nc.Close()
				if tc.name == "0990" {
					recv(t, tc.p.closed)
				}
			}
		})
	}
}

// timeoutReader reads 10 bytes at a time and reports errors.
type timeoutReader struct {
	errs chan error
}

func (s *timeoutReader) OnReadReady(c *socket.Caller) {
	b, err := c.Read(context.Background(), 10)
	if err != nil {
		if errors.Is(err, io.EOF) {
			c.Close()
			return
		}
		select {
		case s.errs <- err:
		default:
		}
		return
	}
	c.Write(context.Background(), b)
}

// §2.1: the read timeout gives ErrReadTimedOut (Ballerina's ReadTimedOutError) and loses nothing:
// the bytes received before it are returned by the next read.
func TestReadTimeout(t *testing.T) {
	svc := &timeoutReader{errs: make(chan error, 1)}
	l := listen(t, svc, &socket.ListenerConfig{ReadTimeout: 50 * time.Millisecond})
	nc := dialRaw(t, l)
	nc.Write([]byte("abc"))
	err := recv(t, svc.errs)
	checkTimeout(t, err)
	nc.Write([]byte("defghij"))
	if s := readFull(t, nc, 10); s != "abcdefghij" {
		t.Fatalf("reply %q", s)
	}

	// A client's read timeout, and the client is usable after it.
	release, finish := make(chan struct{}), make(chan struct{})
	port := mockServer(t, func(nc net.Conn) {
		<-release
		nc.Write([]byte("late"))
		<-finish
	})
	defer close(finish)
	c := newClient(t, port, socket.ClientConfig{ReadTimeout: 30 * time.Millisecond})
	_, err = c.Read(testCtx(t), socket.ReadAvailable)
	checkTimeout(t, err)
	close(release)
	if b, err := c.Read(testCtx(t), 4); err != nil || string(b) != "late" {
		t.Fatalf("read after timeout = %q, %v", b, err)
	}
	// ctx ends first: ctx's error.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := c.Read(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read with an expiring ctx = %v", err)
	}
}

func checkTimeout(t *testing.T, err error) {
	t.Helper()
	var rt interface{ Timeout() bool }
	if !errors.As(err, &rt) || !errors.Is(err, os.ErrDeadlineExceeded) || !errors.Is(err, socket.ErrReadTimedOut) {
		t.Fatalf("error %#v is not ErrReadTimedOut", err)
	}
	if !rt.Timeout() || err.Error() != "read timed out" {
		t.Fatalf("Timeout() = %v, message %q", rt.Timeout(), err.Error())
	}
}

// End of stream: the bytes so far with io.EOF, then io.EOF alone.
func TestReadEOF(t *testing.T) {
	port := mockServer(t, func(nc net.Conn) { nc.Write([]byte("abcd")) })
	c := newClient(t, port, socket.ClientConfig{})
	ctx := testCtx(t)
	b, err := c.Read(ctx, 10)
	if err != io.EOF || string(b) != "abcd" {
		t.Fatalf("Read(10) = %q, %v; want abcd, EOF", b, err)
	}
	b, err = c.Read(ctx, socket.ReadAvailable)
	if err != io.EOF || len(b) != 0 {
		t.Fatalf("Read at EOF = %q, %v", b, err)
	}
}

// oneByte reads one byte per call.
type oneByte struct {
	calls atomic.Int32
	got   []byte // only touched by OnReadReady, which never overlaps
	done  chan string
}

func (s *oneByte) OnReadReady(c *socket.Caller) {
	s.calls.Add(1)
	b, err := c.Read(context.Background(), 1)
	if err != nil {
		c.Close()
		return
	}
	s.got = append(s.got, b...)
	if len(s.got) == 3 {
		s.done <- string(s.got)
		c.Write(context.Background(), []byte("done"))
	}
}

// §2.3: OnReadReady runs again while data remains.
func TestReDispatchWhileDataRemains(t *testing.T) {
	svc := &oneByte{done: make(chan string, 1)}
	l := listen(t, svc, nil)
	nc := dialRaw(t, l)
	nc.Write([]byte("abc"))
	if s := recv(t, svc.done); s != "abc" {
		t.Fatalf("got %q", s)
	}
	readFull(t, nc, 4)
	if n := svc.calls.Load(); n != 3 {
		t.Fatalf("OnReadReady ran %d times for 3 bytes, want 3", n)
	}
}

// lazy returns without reading on its first call.
type lazy struct {
	calls  atomic.Int32
	caller chan *socket.Caller
}

func (s *lazy) OnReadReady(c *socket.Caller) {
	if s.calls.Add(1) == 1 {
		s.caller <- c
		return
	}
	b, err := c.Read(context.Background(), 3)
	if err != nil {
		c.Close()
		return
	}
	c.Write(context.Background(), b)
}

// An OnReadReady that returns without reading is not called in a loop; a
// read made elsewhere (the Caller handed to another goroutine) resumes it.
func TestNoSpinWithoutRead(t *testing.T) {
	svc := &lazy{caller: make(chan *socket.Caller, 1)}
	l := listen(t, svc, nil)
	nc := dialRaw(t, l)
	nc.Write([]byte("abc"))
	c := recv(t, svc.caller)
	b, err := c.Read(testCtx(t), 3)
	if err != nil || string(b) != "abc" {
		t.Fatalf("Read outside OnReadReady = %q, %v", b, err)
	}
	if n := svc.calls.Load(); n != 1 {
		t.Fatalf("OnReadReady ran %d times without reading, want 1", n)
	}
	nc.Write([]byte("def"))
	if s := readFull(t, nc, 3); s != "def" {
		t.Fatalf("reply %q", s)
	}
	if n := svc.calls.Load(); n != 2 {
		t.Fatalf("OnReadReady ran %d times, want 2", n)
	}
}

// A 1.x client with a callback service: OnConnect, then OnReadReady pulls
// the server's reply.
type pullClient struct {
	connected chan struct{}
	data      chan string
}

func (s *pullClient) OnConnect(c *socket.Caller) { s.connected <- struct{}{} }
func (s *pullClient) OnReadReady(c *socket.Caller) {
	b, err := c.Read(context.Background(), socket.ReadAvailable)
	if err != nil {
		return
	}
	s.data <- string(b)
}

func TestClient1xCallback(t *testing.T) {
	l := listen(t, &echo1x{errs: make(chan error, 1)}, nil)
	cs := &pullClient{connected: make(chan struct{}, 1), data: make(chan string, 16)}
	c := newClient(t, l.Port(), socket.ClientConfig{CallbackService: cs})
	recv(t, cs.connected)
	c.Write(testCtx(t), []byte("Hello Ballerina\n"))
	var got string
	for len(got) < 16 {
		got += recv(t, cs.data)
	}
	if got != "Hello Ballerina\n" {
		t.Fatalf("got %q", got)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// The listener's Interface is honoured (the Java implementation ignored it).
func TestListenerInterfaceHonoured(t *testing.T) {
	l := listen(t, newEcho0990(), &socket.ListenerConfig{Interface: "127.0.0.1"})
	ta, ok := l.Addr().(*net.TCPAddr)
	if !ok || !ta.IP.Equal(net.IPv4(127, 0, 0, 1)) || ta.Port == 0 {
		t.Fatalf("Addr() = %v, want 127.0.0.1:port", l.Addr())
	}
	// Where IPv6 loopback exists, the listener must not answer on it.
	if ln6, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		ln6.Close()
		nc, err := net.Dial("tcp6", net.JoinHostPort("::1", strconv.Itoa(ta.Port)))
		if err == nil {
			nc.Close()
			t.Fatal("a listener bound to 127.0.0.1 accepted on ::1")
		}
	}
}

// Attach checks services: an On* method matching no hook is an error.
type (
	noReadReady  struct{}
	badReadReady struct{}
	typo         struct{ echo1x }
	closeOn1x    struct{ echo1x }
	bothConnect  struct{ echo0990 }
	badOnError   struct{ echo0990 }
)

func (noReadReady) OnConnect(c *socket.Caller)                {}
func (badReadReady) OnReadReady(c *socket.Caller, s string)   {}
func (typo) OnReadyRead(c *socket.Caller)                     {}
func (closeOn1x) OnClose(c *socket.Caller)                    {}
func (bothConnect) OnConnect(c *socket.Caller)                {}
func (badOnError) OnError(c *socket.Caller, err error) error  { return nil }
func (s *badOnError) OnReadReady(c *socket.Caller, b []byte)  {}
func (s *bothConnect) OnReadReady(c *socket.Caller, b []byte) {}
func (s *closeOn1x) OnReadReady(c *socket.Caller)             {}
func (s *typo) OnReadReady(c *socket.Caller)                  {}
func (s *badReadReady) OnAccept(c *socket.Caller)             {}
func (s *noReadReady) OnError(c *socket.Caller, err error)    {}
func (s *noReadReady) OnClose(c *socket.Caller)               {}
func (s *badReadReady) OnClose(c *socket.Caller)              {}
func (s *badReadReady) OnError(c *socket.Caller, err error)   {}
func (s *noReadReady) OnAccept(c *socket.Caller)              {}
func (s *typo) OnError(c *socket.Caller, err error)           {}
func (s *closeOn1x) OnError(c *socket.Caller, err error)      {}
func (s *closeOn1x) OnConnect(c *socket.Caller)               {}
func (s *bothConnect) OnAccept(c *socket.Caller)              {}

func TestAttachRejectsBadServices(t *testing.T) {
	for _, tc := range []struct {
		svc  socket.Service
		want string
	}{
		{nil, "nil service"},
		{&noReadReady{}, "no OnReadReady"},
		{&badReadReady{}, "OnReadReady has signature"},
		{&typo{}, "unknown callback OnReadyRead"},
		{&closeOn1x{}, "OnClose is a 0.990 hook"},
		{&bothConnect{}, "both OnAccept and OnConnect"},
		{&badOnError{}, "OnError has signature"},
	} {
		l, err := socket.NewListener(0, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = l.Attach(tc.svc)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Attach(%T) = %v, want an error containing %q", tc.svc, err, tc.want)
		}
		if _, err := socket.NewClient(testCtx(t), socket.ClientConfig{Port: 1, CallbackService: tc.svc}); tc.svc != nil && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("NewClient with %T = %v", tc.svc, err)
		}
		if err := l.Start(); !errors.Is(err, socket.ErrNoService) {
			t.Errorf("Start without service = %v", err)
		}
	}
	l, _ := socket.NewListener(0, nil)
	if err := l.Attach(socket.ReadReadyFunc(func(*socket.Caller) {})); err != nil {
		t.Fatal(err)
	}
	if err := l.Attach(socket.ContentFunc(func(*socket.Caller, []byte) {})); err == nil {
		t.Fatal("a second Attach succeeded")
	}
}

// GracefulStop closes idle and busy 1.x connections with FIN; ImmediateStop
// runs a 0.990 service's OnClose.
func TestStops(t *testing.T) {
	l := listen(t, &echo1x{errs: make(chan error, 1)}, nil)
	nc := dialRaw(t, l)
	nc.Write([]byte("ping"))
	readFull(t, nc, 4)
	stopped := make(chan error, 1)
	go func() { stopped <- l.GracefulStop(testCtx(t)) }()
	if b, err := io.ReadAll(nc); err != nil || len(b) != 0 {
		t.Fatalf("peer read %q, %v; want EOF", b, err)
	}
	nc.Close()
	if err := recv(t, stopped); err != nil {
		t.Fatalf("GracefulStop = %v", err)
	}
	if err := l.Start(); err != nil { // a stopped listener starts again
		t.Fatal(err)
	}
	l.ImmediateStop()

	svc := newEcho0990()
	l2 := listen(t, svc, nil)
	dialRaw(t, l2)
	recv(t, svc.accepted)
	if err := l2.ImmediateStop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-svc.closed:
	default:
		t.Fatal("ImmediateStop returned before OnClose ran")
	}
	if err := l2.ImmediateStop(); !errors.Is(err, socket.ErrNotStarted) {
		t.Fatalf("second ImmediateStop = %v", err)
	}
}

// ShutdownRead: the client reads EOF; a 0.990 service that shuts down its
// read side closes and runs OnClose.
func TestShutdownRead(t *testing.T) {
	port := mockServer(t, func(nc net.Conn) { io.Copy(io.Discard, nc) })
	c := newClient(t, port, socket.ClientConfig{})
	if err := c.ShutdownRead(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(testCtx(t), socket.ReadAvailable); err != io.EOF {
		t.Fatalf("Read after ShutdownRead = %v", err)
	}
	if _, err := c.Write(testCtx(t), []byte("still writable")); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := c.ShutdownWrite(); err == nil || err.Error() != "socket is already closed" {
		t.Fatalf("ShutdownWrite after Close = %v", err)
	}
	if _, err := c.Read(testCtx(t), 1); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read after Close = %v", err)
	}
}

// The Caller's address accessors agree with the peer's view.
func TestCallerAddresses(t *testing.T) {
	type addrs struct {
		ra, la string
		rp, lp int
		id     string
	}
	got := make(chan addrs, 1)
	svc := socket.ContentFunc(func(c *socket.Caller, _ []byte) {
		got <- addrs{c.RemoteAddress(), c.LocalAddress(), c.RemotePort(), c.LocalPort(), c.ID()}
	})
	l := listen(t, svc, nil)
	nc := dialRaw(t, l)
	nc.Write([]byte("x"))
	a := recv(t, got)
	if a.ra != "127.0.0.1" || a.la != "127.0.0.1" || a.lp != l.Port() ||
		a.rp != nc.LocalAddr().(*net.TCPAddr).Port || a.id == "" {
		t.Fatalf("caller addresses %+v", a)
	}
}
