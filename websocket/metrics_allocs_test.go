//go:build !race

package websocket_test

import (
	"testing"

	"github.com/netkit-go/netkit/internal/obs/obstest"
	"github.com/netkit-go/netkit/websocket"
)

// metricsEcho serves the echo with metrics off (mp false) or on.
func metricsEcho(tb testing.TB, on bool) *websocket.Listener {
	lc := &websocket.ListenerConfig{}
	if on {
		lc.MeterProvider = obstest.NewMetrics(tb).Provider
		lc.TracerProvider = obstest.NewSpans(tb).Provider
	}
	return serve(tb, "/ws", websocket.Static(websocket.Echo), &websocket.ServiceConfig{Compression: websocket.CompressionConfig{Disable: true}}, lc)
}

// The message path allocates nothing with metrics off (no MeterProvider);
// with the SDK's in-memory reader on, neither (the attribute options are
// built once per listener).
func TestEchoAllocsWithMetrics(t *testing.T) {
	for _, on := range []bool{false, true} {
		l := metricsEcho(t, on)
		c := dialWS(t, addrOf(l), "/ws", nil)
		rt := echoRoundTrip(t, c.nc, opText, repeatText(1000))
		rt()
		n := testing.AllocsPerRun(500, rt)
		t.Logf("metrics on=%v: %.2f allocations per 1000-byte echo", on, n)
		if n != 0 {
			t.Errorf("metrics on=%v: %.2f allocations per echo, want 0", on, n)
		}
	}
}

// BenchmarkEchoMetrics: the 1 KiB text echo with metrics off and on (the
// cost of one received and one sent message's four counter adds).
func BenchmarkEchoMetrics(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := map[bool]string{false: "off", true: "on"}[on]
		b.Run(name, func(b *testing.B) {
			l := metricsEcho(b, on)
			c := dialWS(b, addrOf(l), "/ws", nil)
			rt := echoRoundTripB(b, c, opText, repeatText(1<<10))
			b.SetBytes(1 << 10)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rt()
			}
		})
	}
}

// BenchmarkEchoMetricsParallel: W1's shape in-process, 1 KiB binary echoes
// on 8 connections per CPU, closed loop, metrics off and on.
func BenchmarkEchoMetricsParallel(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := map[bool]string{false: "off", true: "on"}[on]
		b.Run(name, func(b *testing.B) {
			l := metricsEcho(b, on)
			b.SetBytes(1 << 10)
			b.ReportAllocs()
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				c := dialWS(b, addrOf(l), "/ws", nil)
				rt := echoRoundTripB(b, c, opBinary, repeatText(1<<10))
				for pb.Next() {
					rt()
				}
			})
		})
	}
}
