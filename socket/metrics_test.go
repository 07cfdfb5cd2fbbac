package socket_test

import (
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/netkit-go/netkit/internal/obs/obstest"
	"github.com/netkit-go/netkit/socket"
)

// After a known exchange (N connections, M echoed messages each), a 0.990
// (push) and a 1.x (pull) listener's instruments, and a client's, hold
// exactly those counts.
func TestMetricsCountAKnownExchange(t *testing.T) {
	const n, m = 2, 3
	for _, tc := range []struct {
		name string
		svc  socket.Service
	}{
		{"push", newEcho0990()},
		{"pull", &echo1x{errs: make(chan error, 16)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srvM, cliM := obstest.NewMetrics(t), obstest.NewMetrics(t)
			spans := obstest.NewSpans(t)
			l := listen(t, tc.svc, &socket.ListenerConfig{MeterProvider: srvM.Provider})
			for range n {
				nc := dialRaw(t, l)
				for range m {
					nc.Write([]byte("hello")) // 5 bytes: one read on loopback
					if s := readFull(t, nc, 5); s != "hello" {
						t.Fatalf("echo %q", s)
					}
				}
				nc.Close()
			}
			c := newClient(t, l.Port(), socket.ClientConfig{MeterProvider: cliM.Provider, TracerProvider: spans.Provider})
			if _, err := c.Write(testCtx(t), []byte("hi")); err != nil {
				t.Fatal(err)
			}
			if b, err := c.Read(testCtx(t), 2); err != nil || string(b) != "hi" {
				t.Fatalf("client read %q %v", b, err)
			}
			c.Close()
			if err := l.GracefulStop(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			s := srvM.Collect(t)
			face := attribute.String("netkit.face", "socket")
			for name, want := range map[string]int64{
				"netkit.connection.opened":  n + 1,
				"netkit.connection.closed":  n + 1,
				"netkit.active_connections": 0,
				"netkit.received.messages":  n*m + 1,
				"netkit.sent.messages":      n*m + 1,
				"netkit.received.bytes":     5*n*m + 2,
			} {
				if got := s.Sum(name, face, attribute.String("netkit.role", "server")); got != want {
					t.Errorf("server %s = %d, want %d", name, got, want)
				}
			}
			cs := cliM.Collect(t)
			for name, want := range map[string]int64{
				"netkit.connection.opened": 1,
				"netkit.connection.closed": 1,
				"netkit.sent.messages":     1,
				"netkit.received.bytes":    2,
			} {
				if got := cs.Sum(name, face, attribute.String("netkit.role", "client")); got != want {
					t.Errorf("client %s = %d, want %d", name, got, want)
				}
			}
			if got := len(spans.Ended("socket.dial")); got != 1 {
				t.Errorf("%d dial spans, want 1", got)
			}
		})
	}
}
