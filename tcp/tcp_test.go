package tcp_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/tcp"
)

func TestEcho85Bytes(t *testing.T) {
	l := listen(t, tcp.EchoService, nil)
	c := dial(t, l, nil)
	msg := bytes.Repeat([]byte("x"), 85)
	if err := c.WriteBytes(testCtx(t), msg); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, c, 85); !bytes.Equal(got, msg) {
		t.Fatalf("echo = %q", got)
	}
}

func TestEchoIPv6(t *testing.T) {
	l, err := tcp.NewListener(0, &tcp.ListenerConfig{LocalHost: "::1", Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	l.Attach(tcp.EchoService)
	if err := l.Start(); err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	defer l.ImmediateStop()
	c, err := tcp.NewClient(testCtx(t), "::1", l.Port(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.WriteBytes(testCtx(t), []byte("six"))
	if got := readN(t, c, 3); string(got) != "six" {
		t.Fatalf("got %q", got)
	}
	if h := c.Caller().RemoteHost(); h != "::1" {
		t.Fatalf("RemoteHost = %q", h)
	}
}

func TestClientInvalidLocalHost(t *testing.T) {
	l := listen(t, tcp.EchoService, nil)
	_, port := hostPort(t, l.Addr())
	_, err := tcp.NewClient(testCtx(t), "127.0.0.1", port, &tcp.ClientConfig{LocalHost: "invalid.host.invalid"})
	var te *tcp.Error
	if !errors.As(err, &te) || te.Op != "connect" {
		t.Fatalf("err = %v, want *tcp.Error connect", err)
	}
}

func TestClientLocalHostBind(t *testing.T) {
	l := listen(t, tcp.EchoService, nil)
	c := dial(t, l, &tcp.ClientConfig{LocalHost: "127.0.0.1"})
	if h := c.Caller().LocalHost(); h != "127.0.0.1" {
		t.Fatalf("LocalHost = %q", h)
	}
}

func TestClientConnectRefused(t *testing.T) {
	port := netkittest.ClosedPort(t)
	_, err := tcp.NewClient(testCtx(t), "127.0.0.1", port, nil)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("err = %v, want ECONNREFUSED", err)
	}
}

// A discard server: the read times out with a typed error, nothing is lost
// and the client stays usable.
func TestClientReadTimeoutThenRead(t *testing.T) {
	release := make(chan *tcp.Caller, 1)
	l := listen(t, tcp.ServiceFunc(func(c *tcp.Caller) (tcp.ConnectionService, error) {
		release <- c
		return tcp.BytesFunc(func(*tcp.Caller, []byte) ([]byte, error) { return nil, nil }), nil
	}), nil)
	c := dial(t, l, &tcp.ClientConfig{Timeout: 100 * time.Millisecond})
	caller := <-release
	_, err := c.ReadBytes(context.Background())
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	var to interface{ Timeout() bool }
	if !errors.As(err, &to) || !to.Timeout() {
		t.Fatalf("err %v has no Timeout() true", err)
	}
	if err := caller.WriteBytes(testCtx(t), []byte("late")); err != nil {
		t.Fatal(err)
	}
	b, err := c.ReadBytes(context.Background())
	if err != nil || string(b) != "late" {
		t.Fatalf("after timeout: %q, %v", b, err)
	}
	// ctx cancellation also times out a read without harming the client.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.ReadBytes(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled read: %v", err)
	}
}

func TestClientReadFromServerClosingInOnConnect(t *testing.T) {
	l := listen(t, tcp.ServiceFunc(func(c *tcp.Caller) (tcp.ConnectionService, error) {
		return nil, errors.New("go away")
	}), nil)
	c := dial(t, l, nil)
	if _, err := c.ReadBytes(testCtx(t)); err == nil {
		t.Fatal("read succeeded from a refused connection")
	}
}

func TestLargeResponse8000001(t *testing.T) {
	const size = 8_000_001
	l := listen(t, tcp.ServiceFunc(func(*tcp.Caller) (tcp.ConnectionService, error) {
		return tcp.BytesFunc(func(c *tcp.Caller, _ []byte) ([]byte, error) {
			return bytes.Repeat([]byte{'a'}, size), nil
		}), nil
	}), nil)
	c := dial(t, l, nil)
	c.WriteBytes(testCtx(t), []byte("go"))
	got := readN(t, c, size)
	if got[size-1] != 97 {
		t.Fatalf("last byte %d", got[size-1])
	}
}

func replyService(reply string) tcp.Service {
	return tcp.ServiceFunc(func(*tcp.Caller) (tcp.ConnectionService, error) {
		return tcp.BytesFunc(func(*tcp.Caller, []byte) ([]byte, error) { return []byte(reply), nil }), nil
	})
}

func TestDetachAttachRestart(t *testing.T) {
	port := netkittest.ClosedPort(t)
	l, err := tcp.NewListener(port, &tcp.ListenerConfig{LocalHost: "127.0.0.1", Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	defer l.ImmediateStop()
	if err := l.Start(); !errors.Is(err, tcp.ErrNoService) {
		t.Fatalf("start without service: %v", err)
	}
	if err := l.Detach(); err == nil {
		t.Fatal("detach with nothing attached succeeded")
	}
	l.Attach(replyService("Hello"))
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); !errors.Is(err, tcp.ErrAlreadyStarted) {
		t.Fatalf("second start: %v", err)
	}
	ask := func() string {
		c, err := tcp.NewClient(testCtx(t), "127.0.0.1", port, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.WriteBytes(testCtx(t), []byte("?"))
		b, err := c.ReadBytes(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := ask(); got != "Hello" {
		t.Fatalf("got %q", got)
	}
	if err := l.GracefulStop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Done():
	default:
		t.Fatal("Done not closed after stop")
	}
	if err := l.Detach(); err != nil {
		t.Fatal(err)
	}
	if err := l.Attach(replyService("Hi")); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	if got := ask(); got != "Hi" {
		t.Fatalf("after restart got %q", got)
	}
	if l.Err() != nil {
		t.Fatalf("Err = %v", l.Err())
	}
}

func TestPortInUse(t *testing.T) {
	l := listen(t, tcp.EchoService, nil)
	_, port := hostPort(t, l.Addr())
	l2, _ := tcp.NewListener(port, &tcp.ListenerConfig{LocalHost: "127.0.0.1"})
	l2.Attach(tcp.EchoService)
	err := l2.Start()
	var te *tcp.Error
	if !errors.Is(err, syscall.EADDRINUSE) || !errors.As(err, &te) {
		t.Fatalf("err = %v, want *tcp.Error with EADDRINUSE", err)
	}
	if err := l2.GracefulStop(context.Background()); !errors.Is(err, tcp.ErrNotStarted) {
		t.Fatalf("stop of unstarted listener: %v", err)
	}
}
