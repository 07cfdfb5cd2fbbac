package udp_test

import (
	"net/netip"
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/netkit-go/netkit/internal/obs/obstest"
	"github.com/netkit-go/netkit/udp"
)

// After a known exchange (M echoed datagrams, one truncated, one reply
// that cannot be sent), the listener's and the client's instruments hold
// exactly those counts, in each listener mode.
func TestMetricsCountAKnownExchange(t *testing.T) {
	const m = 5
	forModes(t, func(t *testing.T, md mode) {
		srvM, cliM := obstest.NewMetrics(t), obstest.NewMetrics(t)
		cfg := &udp.ListenerConfig{ReceiveBufferSize: 100, MeterProvider: srvM.Provider}
		md.cfg(cfg)
		svc := udp.DatagramFunc(func(_ udp.Caller, d udp.Datagram) (udp.Datagram, error) {
			if string(d.Data) == "bad" {
				// An IPv6 destination from an IPv4 socket: the send fails.
				return udp.Datagram{Addr: netip.MustParseAddrPort("[::1]:9"), Data: d.Data}, nil
			}
			return udp.Datagram{Data: d.Data}, nil
		})
		l, to := startListener(t, cfg, svc)
		c := newClient(t, &udp.ClientConfig{LocalHost: "127.0.0.1", MeterProvider: cliM.Provider})
		send(t, c, to, make([]byte, 200)) // over ReceiveBufferSize: truncated
		send(t, c, to, []byte("bad"))
		for range m {
			if d := roundTrip(t, c, to, []byte("ping")); string(d.Data) != "ping" {
				t.Fatalf("echo %q", d.Data)
			}
		}
		stopListener(t, l) // the loop has ended: every datagram is counted
		s := srvM.Collect(t)
		server := attribute.String("netkit.role", "server")
		for name, want := range map[string]int64{
			"netkit.received.messages":       m + 1,
			"netkit.received.bytes":          4*m + 3,
			"netkit.sent.messages":           m,
			"netkit.sent.bytes":              4 * m,
			"netkit.udp.truncated.datagrams": 1,
			"netkit.udp.send.errors":         1,
		} {
			if got := s.Sum(name, server, attribute.String("netkit.face", "udp"), attribute.String("network.transport", "udp")); got != want {
				t.Errorf("server %s = %d, want %d", name, got, want)
			}
		}
		if got := s.Sum("netkit.stops", attribute.String("netkit.stop.kind", "graceful")); got != 1 {
			t.Errorf("graceful stops = %d, want 1", got)
		}
		cs := cliM.Collect(t)
		client := attribute.String("netkit.role", "client")
		for name, want := range map[string]int64{
			"netkit.sent.messages":     m + 2,
			"netkit.sent.bytes":        200 + 3 + 4*m,
			"netkit.received.messages": m,
			"netkit.received.bytes":    4 * m,
		} {
			if got := cs.Sum(name, client); got != want {
				t.Errorf("client %s = %d, want %d", name, got, want)
			}
		}
	})
}
