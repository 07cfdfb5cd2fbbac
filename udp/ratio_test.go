package udp

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// BenchmarkEchoRatio measures netkit's listener against the plain
// net.UDPConn loop (ReadFromUDPAddrPort/WriteToUDPAddrPort) in alternating
// bursts, so that background load on the machine hits both alike. Each
// iteration is one round: a burst of `burst` echoes through the plain loop,
// then one through netkit, both driven by the same generator. It reports
// the median packets/s of each and the median of the per-round ratios.
// Run it with -benchtime=Nx for N rounds.
func BenchmarkEchoRatio(b *testing.B) {
	configs := []struct {
		name  string
		noGSO bool
		cfg   func() *ListenerConfig
	}{
		{"batched", false, func() *ListenerConfig { return &ListenerConfig{} }},
		{"batched-noGSO", true, func() *ListenerConfig { return &ListenerConfig{} }},
		{"batch32", false, func() *ListenerConfig { return &ListenerConfig{BatchSize: 32} }},
		{"batch64-rbuf2k", false, func() *ListenerConfig { return &ListenerConfig{BatchSize: 64, ReceiveBufferSize: 2048} }},
		{"unbatched", false, func() *ListenerConfig { return &ListenerConfig{BatchSize: 1} }},
		{"workers2", false, func() *ListenerConfig { return &ListenerConfig{Workers: 2} }},
	}
	gens := []struct {
		name string
		gen  generator
	}{{"gen=plain", plainGen}, {"gen=mmsg", mmsgGen}, {"gen=gso", gsoGen}}
	const burst, clients, window = 20000, 2, 32
	for _, g := range gens {
		for _, c := range configs {
			b.Run(g.name+"/"+c.name, func(b *testing.B) {
				if g.gen == nil {
					b.Skip("generator not available here")
				}
				plainAddr, stopPlain := plainEcho(b, true)
				defer stopPlain()
				noGSO = c.noGSO
				nkAddr, stopNK := netkitEcho(b, c.cfg())
				defer stopNK()
				noGSO = false
				drive := func(addr netip.AddrPort) float64 {
					start := time.Now()
					done := make(chan struct{}, clients)
					for range clients {
						go func() {
							g.gen(b, addr, burst/clients, window)
							done <- struct{}{}
						}()
					}
					for range clients {
						<-done
					}
					return float64(burst) / time.Since(start).Seconds()
				}
				drive(plainAddr) // warm up
				drive(nkAddr)
				var plain, nk, ratio []float64
				for b.Loop() {
					p, n := drive(plainAddr), drive(nkAddr)
					plain, nk, ratio = append(plain, p), append(nk, n), append(ratio, n/p)
				}
				b.ReportMetric(median(plain), "plain-pkts/s")
				b.ReportMetric(median(nk), "netkit-pkts/s")
				b.ReportMetric(median(ratio), "ratio")
				b.Logf("%d rounds; ratios %s", len(ratio), fmtRatios(ratio))
			})
		}
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func fmtRatios(v []float64) string {
	out := ""
	for _, r := range v {
		out += fmt.Sprintf(" %.2f", r)
	}
	return out
}

// BenchmarkClientRatio compares netkit's Client (SendDatagram +
// ReceiveDatagramInto) with a plain net.UDPConn client against the same
// plain echo loop, in alternating bursts of one-at-a-time round trips. It
// reports the median round-trip time of each and the median ratio
// (plain/netkit: above 1 means netkit is faster).
func BenchmarkClientRatio(b *testing.B) {
	const burst = 5000
	addr, stop := plainEcho(b, true)
	defer stop()
	uc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer uc.Close()
	c, err := NewClient(context.Background(), &ClientConfig{LocalHost: "127.0.0.1"})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	msg, buf := make([]byte, benchPayload), make([]byte, 2048)
	ctx := context.Background()
	d := Datagram{Addr: addr, Data: msg}
	plainRun := func() time.Duration {
		start := time.Now()
		for range burst {
			uc.WriteToUDPAddrPort(msg, addr)
			if _, _, err := uc.ReadFromUDPAddrPort(buf); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start) / burst
	}
	nkRun := func() time.Duration {
		start := time.Now()
		for range burst {
			if err := c.SendDatagram(ctx, d); err != nil {
				b.Fatal(err)
			}
			if _, _, err := c.ReceiveDatagramInto(ctx, buf); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start) / burst
	}
	plainRun()
	nkRun()
	var p, n, r []float64
	for b.Loop() {
		pt, nt := plainRun(), nkRun()
		p, n, r = append(p, float64(pt)), append(n, float64(nt)), append(r, float64(pt)/float64(nt))
	}
	b.ReportMetric(median(p), "plain-ns/rt")
	b.ReportMetric(median(n), "netkit-ns/rt")
	b.ReportMetric(median(r), "ratio")
}

// BenchmarkLatencyRatio compares one-at-a-time round trips through the
// listener with those through the plain loop, in alternating bursts; ratio
// above 1 means netkit is faster.
func BenchmarkLatencyRatio(b *testing.B) {
	const burst = 5000
	for _, c := range []struct {
		name string
		cfg  func() *ListenerConfig
	}{
		{"batched", func() *ListenerConfig { return &ListenerConfig{} }},
		{"unbatched", func() *ListenerConfig { return &ListenerConfig{BatchSize: 1} }},
	} {
		b.Run(c.name, func(b *testing.B) {
			plainAddr, stopPlain := plainEcho(b, true)
			defer stopPlain()
			nkAddr, stopNK := netkitEcho(b, c.cfg())
			defer stopNK()
			uc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			defer uc.Close()
			msg, buf := make([]byte, benchPayload), make([]byte, 2048)
			run := func(addr netip.AddrPort) float64 {
				start := time.Now()
				for range burst {
					uc.WriteToUDPAddrPort(msg, addr)
					if _, _, err := uc.ReadFromUDPAddrPort(buf); err != nil {
						b.Fatal(err)
					}
				}
				return float64(time.Since(start)) / burst
			}
			run(plainAddr)
			run(nkAddr)
			var p, n, r []float64
			for b.Loop() {
				pt, nt := run(plainAddr), run(nkAddr)
				p, n, r = append(p, pt), append(n, nt), append(r, pt/nt)
			}
			b.ReportMetric(median(p), "plain-ns/rt")
			b.ReportMetric(median(n), "netkit-ns/rt")
			b.ReportMetric(median(r), "ratio")
		})
	}
}
