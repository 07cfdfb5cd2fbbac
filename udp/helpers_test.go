package udp_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/leakcheck"
	"github.com/netkit-go/netkit/udp"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// mode is one way of running a listener; behaviour tests run in each.
type mode struct {
	name string
	cfg  func(*udp.ListenerConfig)
}

var modes = []mode{
	{"batched", func(*udp.ListenerConfig) {}},
	{"unbatched", func(c *udp.ListenerConfig) { c.BatchSize = 1 }},
	{"workers", func(c *udp.ListenerConfig) { c.Workers = 3 }},
}

func forModes(t *testing.T, f func(t *testing.T, m mode)) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) { f(t, m) })
	}
}

// forModesParallel runs the modes in parallel, for tests that mostly wait
// for timeouts.
func forModesParallel(t *testing.T, f func(t *testing.T, m mode)) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			f(t, m)
		})
	}
}

// startListener starts a listener on 127.0.0.1 (unless cfg says otherwise)
// with svc, stopped at cleanup; it returns the address to send to.
func startListener(t testing.TB, cfg *udp.ListenerConfig, svc udp.Service) (*udp.Listener, netip.AddrPort) {
	t.Helper()
	if cfg == nil {
		cfg = &udp.ListenerConfig{}
	}
	if cfg.LocalHost == "" && len(cfg.MulticastGroups) == 0 {
		cfg.LocalHost = "127.0.0.1"
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	l, err := udp.NewListener(0, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Attach(svc); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopListener(t, l) })
	ap := l.Addr().(*net.UDPAddr).AddrPort()
	if ap.Addr().IsUnspecified() {
		ap = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ap.Port())
	}
	return l, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func stopListener(t testing.TB, l *udp.Listener) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.GracefulStop(ctx); err != nil {
		t.Errorf("GracefulStop: %v", err)
	}
	select {
	case <-l.Done():
	case <-time.After(5 * time.Second):
		t.Errorf("listener did not finish")
	}
}

func newClient(t testing.TB, cfg *udp.ClientConfig) *udp.Client {
	t.Helper()
	if cfg == nil {
		cfg = &udp.ClientConfig{LocalHost: "127.0.0.1"}
	}
	c, err := udp.NewClient(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// tctx is a context for one test step.
func tctx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func send(t testing.TB, c *udp.Client, to netip.AddrPort, data []byte) {
	t.Helper()
	if err := c.SendDatagram(tctx(t, 5*time.Second), udp.Datagram{Addr: to, Data: data}); err != nil {
		t.Fatalf("SendDatagram: %v", err)
	}
}

func recv(t testing.TB, c *udp.Client) udp.Datagram {
	t.Helper()
	d, err := c.ReceiveDatagram(tctx(t, 5*time.Second))
	if err != nil {
		t.Fatalf("ReceiveDatagram: %v", err)
	}
	return d
}

// roundTrip sends data and waits for one reply.
func roundTrip(t testing.TB, c *udp.Client, to netip.AddrPort, data []byte) udp.Datagram {
	t.Helper()
	send(t, c, to, data)
	return recv(t, c)
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(discard{}, &slog.HandlerOptions{Level: slog.LevelError + 100}))
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// logBuffer is a goroutine-safe log sink.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// errSink collects OnError calls.
type errSink chan error

func (e errSink) OnError(_ udp.Caller, err error) {
	select {
	case e <- err:
	default:
	}
}

func (e errSink) wait(t testing.TB) error {
	t.Helper()
	select {
	case err := <-e:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("OnError not called")
		return nil
	}
}

// echoWithErrors echoes and reports errors to sink.
type echoWithErrors struct{ errSink }

func (echoWithErrors) OnBytes(_ udp.Caller, data []byte) ([]byte, error) { return data, nil }
