package tcp_test

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/netkit-go/netkit/internal/leakcheck"
	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/tcp"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// quietLogger discards logs: tests provoke errors and panics on purpose.
var quietLogger = netkittest.DiscardLogger

// testCtx returns a context bounded well below the test timeout.
func testCtx(t testing.TB) context.Context { return netkittest.Context(t) }

// listen starts a listener on 127.0.0.1:0 with svc, stopped at cleanup.
func listen(t testing.TB, svc tcp.Service, cfg *tcp.ListenerConfig) *tcp.Listener {
	t.Helper()
	var c tcp.ListenerConfig
	if cfg != nil {
		c = *cfg
	}
	if c.LocalHost == "" {
		c.LocalHost = "127.0.0.1"
	}
	if c.Logger == nil {
		c.Logger = quietLogger
	}
	l, err := tcp.NewListener(0, &c)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Attach(svc); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.ImmediateStop() })
	return l
}

// dial connects a pull-style client to l, closed at cleanup.
func dial(t testing.TB, l *tcp.Listener, cfg *tcp.ClientConfig) *tcp.Client {
	t.Helper()
	host, port := hostPort(t, l.Addr())
	c, err := tcp.NewClient(testCtx(t), host, port, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func hostPort(t testing.TB, a net.Addr) (string, int) {
	t.Helper()
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		t.Fatalf("not a TCP address: %v", a)
	}
	return ta.IP.String(), ta.Port
}

// readN reads exactly n bytes with ReadBytes.
func readN(t testing.TB, c *tcp.Client, n int) []byte {
	t.Helper()
	ctx := testCtx(t)
	var out []byte
	for len(out) < n {
		b, err := c.ReadBytes(ctx)
		if err != nil {
			t.Fatalf("after %d of %d bytes: %v", len(out), n, err)
		}
		out = append(out, b...)
	}
	if len(out) != n {
		t.Fatalf("read %d bytes, want %d", len(out), n)
	}
	return out
}

// readToEOF reads until io.EOF and returns what came.
func readToEOF(t testing.TB, c *tcp.Client) []byte {
	t.Helper()
	ctx := testCtx(t)
	var out []byte
	for {
		b, err := c.ReadBytes(ctx)
		out = append(out, b...)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("after %d bytes: %v", len(out), err)
		}
	}
}
