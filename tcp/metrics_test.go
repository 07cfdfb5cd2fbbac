package tcp_test

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/netkit-go/netkit/internal/obs/obstest"
	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/tcp"
)

// After a known exchange (N clients, M echoed messages each, one handler
// error, a graceful stop), the listener's and the clients' instruments hold
// exactly those counts.
func TestMetricsCountAKnownExchange(t *testing.T) {
	const n, m = 3, 4
	srvM, cliM := obstest.NewMetrics(t), obstest.NewMetrics(t)
	spans := obstest.NewSpans(t)
	svc := tcp.ServiceFunc(func(*tcp.Caller) (tcp.ConnectionService, error) {
		return tcp.BytesFunc(func(_ *tcp.Caller, p []byte) ([]byte, error) {
			if string(p) == "fail!" {
				return []byte("oops!"), errors.New("refused by the test")
			}
			return p, nil
		}), nil
	})
	l := listen(t, svc, &tcp.ListenerConfig{MeterProvider: srvM.Provider})
	msg := []byte("hello") // 5 bytes: one segment, one read, on loopback
	for i := range n {
		c := dial(t, l, &tcp.ClientConfig{MeterProvider: cliM.Provider, TracerProvider: spans.Provider})
		for range m {
			if err := c.WriteBytes(testCtx(t), msg); err != nil {
				t.Fatal(err)
			}
			if got := readN(t, c, len(msg)); string(got) != "hello" {
				t.Fatalf("echo %q", got)
			}
		}
		if i == 0 {
			c.WriteBytes(testCtx(t), []byte("fail!"))
			readN(t, c, 5)
		}
		c.Close()
	}
	port := int64(l.Port())
	if err := l.GracefulStop(testCtx(t)); err != nil { // returns after every OnClose
		t.Fatal(err)
	}
	s := srvM.Collect(t)
	server := attribute.String("netkit.role", "server")
	want := map[string]int64{
		"netkit.connection.opened":  n,
		"netkit.connection.closed":  n,
		"netkit.active_connections": 0,
		"netkit.received.messages":  n*m + 1,
		"netkit.sent.messages":      n*m + 1,
		"netkit.received.bytes":     5 * (n*m + 1),
		"netkit.sent.bytes":         5 * (n*m + 1),
	}
	for name, v := range want {
		if got := s.Sum(name, server, attribute.String("netkit.face", "tcp")); got != v {
			t.Errorf("server %s = %d, want %d", name, got, v)
		}
	}
	if got := s.Sum("netkit.errors", attribute.String("error.type", "handler")); got != 1 {
		t.Errorf("handler errors = %d, want 1", got)
	}
	if got := s.Sum("netkit.stops", attribute.String("netkit.stop.kind", "graceful")); got != 1 {
		t.Errorf("graceful stops = %d, want 1", got)
	}
	if got := s.Count("netkit.connection.duration"); got != n {
		t.Errorf("duration points = %d, want %d", got, n)
	}
	for _, a := range s.Attrs("netkit.connection.opened") {
		if v, ok := a.Value("server.port"); !ok || v.AsInt64() != port {
			t.Errorf("opened without server.port %d: %v", port, a.Encoded(attribute.DefaultEncoder()))
		}
		if v, _ := a.Value("network.transport"); v.AsString() != "tcp" {
			t.Errorf("network.transport: %v", a.Encoded(attribute.DefaultEncoder()))
		}
	}

	c := cliM.Collect(t)
	client := attribute.String("netkit.role", "client")
	for name, v := range map[string]int64{
		"netkit.connection.opened":  n,
		"netkit.connection.closed":  n,
		"netkit.active_connections": 0,
		"netkit.sent.messages":      n*m + 1,
		"netkit.received.messages":  n*m + 1,
	} {
		if got := c.Sum(name, client); got != v {
			t.Errorf("client %s = %d, want %d", name, got, v)
		}
	}
	if got := len(spans.Ended("tcp.dial")); got != n {
		t.Errorf("%d dial spans, want %d", got, n)
	}
}

// A failed TLS handshake on a listener counts as an error of type tls,
// and as no connection (it never reached a service).
func TestMetricsTLSHandshakeFailure(t *testing.T) {
	srvM := obstest.NewMetrics(t)
	stc, _ := netkittest.TLSPair(t)
	l := listen(t, tcp.ServiceFunc(func(*tcp.Caller) (tcp.ConnectionService, error) {
		return tcp.BytesFunc(func(_ *tcp.Caller, p []byte) ([]byte, error) { return p, nil }), nil
	}), &tcp.ListenerConfig{TLSConfig: stc, MeterProvider: srvM.Provider})
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("not a ClientHello\r\n\r\n"))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	io.Copy(io.Discard, c) // the server closes after counting
	s := srvM.Collect(t)
	if got := s.Sum("netkit.errors", attribute.String("error.type", "tls")); got != 1 {
		t.Errorf("tls errors = %d, want 1", got)
	}
	if got := s.Sum("netkit.connection.opened"); got != 0 {
		t.Errorf("opened = %d, want 0", got)
	}
}
