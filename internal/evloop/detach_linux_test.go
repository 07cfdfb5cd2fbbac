//go:build linux

package evloop

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func sysfd(t *testing.T, c net.Conn) int {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	fd := -1
	rc.Control(func(s uintptr) { fd = int(s) })
	return fd
}

func tcpState(t *testing.T, fd int) uint8 {
	t.Helper()
	info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		t.Fatal(err)
	}
	return info.State
}

const tcpEstablished = 1 // TCP_ESTABLISHED in tcpi_state

// readFD reads exactly len(p) bytes from a non-blocking descriptor,
// waiting with poll(2) for at most 10 s in all.
func readFD(t *testing.T, fd int, p []byte) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for got := 0; got < len(p); {
		n, err := unix.Read(fd, p[got:])
		switch {
		case err == unix.EAGAIN:
			ms := int(time.Until(deadline) / time.Millisecond)
			if ms <= 0 {
				t.Fatal("readFD: timed out")
			}
			unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, ms)
		case err != nil:
			t.Fatal(err)
		case n == 0:
			t.Fatal("readFD: EOF")
		default:
			got += n
		}
	}
}

// TestDetachReleasesOriginal: after Detach the original descriptor is
// closed (and no longer Go's), the new one reads and writes the same
// socket, and the peer saw neither FIN nor RST from the original's close.
func TestDetachReleasesOriginal(t *testing.T) {
	ln := listener(t)
	cl, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	orig := sysfd(t, sc)
	before := countFDs(t)

	fd, err := Detach(sc)
	if err != nil {
		t.Fatal(err)
	}
	if got := countFDs(t); got != before {
		t.Fatalf("descriptors: %d after Detach, want %d (original closed, one new)", got, before)
	}
	if _, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", orig)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("original descriptor %d still open (%v)", orig, err)
	}
	if _, err := sc.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read on the detached net.Conn = %v, want net.ErrClosed", err)
	}
	if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err != nil || fl&unix.O_NONBLOCK == 0 {
		t.Fatalf("new descriptor flags %#x, %v: want O_NONBLOCK", fl, err)
	}
	if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil || fl&unix.FD_CLOEXEC == 0 {
		t.Fatalf("new descriptor fd flags %#x, %v: want FD_CLOEXEC", fl, err)
	}
	sa, err := unix.Getpeername(fd)
	if err != nil {
		t.Fatal(err)
	}
	if got := sa.(*unix.SockaddrInet4).Port; got != cl.LocalAddr().(*net.TCPAddr).Port {
		t.Fatalf("new descriptor's peer port %d, want the client's %d", got, cl.LocalAddr().(*net.TCPAddr).Port)
	}

	// Data after the close of the original: had it sent FIN, writing
	// "done" would fail (EPIPE) and the client would be in CLOSE_WAIT.
	if _, err := unix.Write(fd, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	cl.SetDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(cl, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("client read %q, %v", buf, err)
	}
	if _, err := cl.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	readFD(t, fd, buf)
	if string(buf) != "pong" {
		t.Fatalf("new descriptor read %q", buf)
	}
	if _, err := unix.Write(fd, []byte("done")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(cl, buf); err != nil || string(buf) != "done" {
		t.Fatalf("client read %q, %v", buf, err)
	}
	if s := tcpState(t, sysfd(t, cl)); s != tcpEstablished {
		t.Fatalf("client TCP state %d, want ESTABLISHED: it saw a FIN or RST", s)
	}
	if s := tcpState(t, fd); s != tcpEstablished {
		t.Fatalf("server TCP state %d, want ESTABLISHED", s)
	}

	// Closing the new descriptor is what ends the connection.
	if err := unix.Close(fd); err != nil {
		t.Fatal(err)
	}
	if got := countFDs(t); got != before-1 {
		t.Fatalf("descriptors: %d after closing the new one, want %d", got, before-1)
	}
	if n, err := cl.Read(buf); err != io.EOF {
		t.Fatalf("client read after close = %d, %v; want EOF", n, err)
	}
}

func TestDetachNotASocket(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, err := Detach(a); !errors.Is(err, ErrNotDetachable) {
		t.Fatalf("Detach(net.Pipe) = %v", err)
	}
	if _, err := Detach(tls.Client(a, &tls.Config{})); !errors.Is(err, ErrNotDetachable) {
		t.Fatalf("Detach(*tls.Conn) = %v", err)
	}
}

// TestDetachHijacked moves a connection net/http upgraded into the
// poller: the 101 written into the hijacked buffer goes out, the bytes the
// client sent right behind its request (already in net/http's
// bufio.Reader) reach Data first, and the connection then echoes.
func TestDetachHijacked(t *testing.T) {
	p := newPoller(t, Config{})
	ln := listener(t)
	registered := make(chan error, 1)
	h := newEcho()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nc, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			registered <- err
			return
		}
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n")
		fd, buffered, err := DetachHijacked(nc, rw)
		if err != nil {
			registered <- err
			return
		}
		_, err = p.Register(fd, h, buffered)
		registered <- err
	})}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		srv.Close()
		if err := <-served; err != http.ErrServerClosed {
			t.Errorf("Serve = %v", err)
		}
	}()

	cl, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	cl.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := cl.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\nEARLY")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(cl)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if err := <-registered; err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(br, got); err != nil || string(got) != "EARLY" {
		t.Fatalf("echo of the early bytes: %q, %v", got, err)
	}
	for _, msg := range []string{"one", strings.Repeat("x", 100000)} {
		if _, err := cl.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(br, got); err != nil || string(got) != msg {
			t.Fatalf("echo of %.10q: %v", msg, err)
		}
	}
	cl.Close()
	if err := h.waitClosed(t); err != io.EOF {
		t.Fatalf("Closed cause = %v", err)
	}
}
