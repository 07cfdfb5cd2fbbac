package tlsconf

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netkit-go/netkit/netkittest"
)

func TestHandshakeTimeoutValues(t *testing.T) {
	if DefaultHandshakeTimeout != 10*time.Second {
		t.Fatalf("DefaultHandshakeTimeout = %v", DefaultHandshakeTimeout)
	}
	for in, want := range map[time.Duration]time.Duration{
		0: 10 * time.Second, -1: 0, -time.Hour: 0, time.Millisecond: time.Millisecond, time.Minute: time.Minute,
	} {
		if got := HandshakeTimeout(in); got != want {
			t.Errorf("HandshakeTimeout(%v) = %v, want %v", in, got, want)
		}
	}
}

// silentPeer returns the server side of a TLS connection whose client
// connects and never sends a byte. The client socket is closed at cleanup.
func silentPeer(t *testing.T, cfg *tls.Config) (*tls.Conn, *deadlineConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cli, err := net.DialTimeout("tcp", ln.Addr().String(), testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	dc := &deadlineConn{Conn: srv}
	return tls.Server(dc, cfg), dc
}

// deadlineConn records the deadlines set on it.
type deadlineConn struct {
	net.Conn
	mu   sync.Mutex
	last []time.Time
}

func (c *deadlineConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.last = append(c.last, t)
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

func (c *deadlineConn) deadlines() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.last...)
}

func TestHandshakeTimesOut(t *testing.T) {
	c := netkittest.NewCertificates(t)
	cfg := serverCfg(t, pemListener(c), nil)
	conn, _ := silentPeer(t, cfg)
	start := time.Now()
	err := Handshake(context.Background(), conn, 50*time.Millisecond)
	if elapsed := time.Since(start); elapsed > testTimeout {
		t.Fatalf("timeout took %v", elapsed)
	}
	var he *HandshakeError
	if !errors.As(err, &he) || !he.Timeout() {
		t.Fatalf("error %v (%T): want a *HandshakeError with Timeout()", err, err)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("error %v does not match os.ErrDeadlineExceeded", err)
	}
	var te interface{ Timeout() bool }
	if !errors.As(err, &te) || !te.Timeout() {
		t.Fatal("no Timeout() on the error")
	}
	if !strings.Contains(err.Error(), "timed out after 50ms") {
		t.Fatalf("message %q", err)
	}
}

func TestHandshakeContext(t *testing.T) {
	c := netkittest.NewCertificates(t)
	cfg := serverCfg(t, pemListener(c), nil)

	t.Run("cancel", func(t *testing.T) {
		conn, _ := silentPeer(t, cfg)
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- Handshake(ctx, conn, -1) }() // no handshake timeout
		cancel()
		var err error
		select {
		case err = <-errc:
		case <-time.After(testTimeout):
			t.Fatal("Handshake did not return after cancel")
		}
		var he *HandshakeError
		if !errors.Is(err, context.Canceled) || !errors.As(err, &he) || he.Timeout() {
			t.Fatalf("error %v: want context.Canceled, not a timeout", err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		conn, _ := silentPeer(t, cfg)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		err := Handshake(ctx, conn, time.Minute)
		var he *HandshakeError
		if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &he) || !he.Timeout() {
			t.Fatalf("error %v: want context.DeadlineExceeded with Timeout()", err)
		}
	})
}

func TestHandshakeClearsDeadline(t *testing.T) {
	c := netkittest.NewCertificates(t)
	srvCfg := serverCfg(t, pemListener(c), nil)
	cliCfg := clientCfg(t, &ClientSecureSocket{Cert: c.CACert}, nil, "localhost")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	errc := make(chan error, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer nc.Close()
		errc <- Handshake(context.Background(), tls.Server(nc, srvCfg), testTimeout)
	}()
	nc, err := net.DialTimeout("tcp", ln.Addr().String(), testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	dc := &deadlineConn{Conn: nc}
	before := time.Now()
	if err := Handshake(context.Background(), tls.Client(dc, cliCfg), 0); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	d := dc.deadlines()
	if len(d) != 2 || d[0].Sub(before) < DefaultHandshakeTimeout || d[0].Sub(before) > DefaultHandshakeTimeout+testTimeout || !d[1].IsZero() {
		t.Fatalf("deadlines set: %v (want now+10s, then cleared)", d)
	}

	// A negative timeout sets no deadline at all.
	conn, dc2 := silentPeer(t, srvCfg)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Handshake(ctx, conn, -1); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if d := dc2.deadlines(); len(d) != 0 {
		t.Fatalf("deadlines set with a negative timeout: %v", d)
	}
}
