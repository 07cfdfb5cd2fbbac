package udp

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"
)

// Benchmarks: the listener's echo path against a plain net.UDPConn echo
// loop, in one process on loopback.
//
//   - BenchmarkListenerRoundTrip: one client, one datagram in flight
//     (latency; ns/op is one round trip).
//   - BenchmarkListenerThroughput: clients keep windows of datagrams in
//     flight; pkts/s is the echo rate. The "plain" generator sends and
//     receives one datagram per system call; the "mmsg" generator (Linux)
//     uses sendmmsg/recvmmsg so that the server, not the generator, is the
//     bottleneck.
//   - BenchmarkClientRoundTrip: netkit's Client against a plain client, both
//     talking to a plain echo loop.
//
// allocs/op counts every goroutine in the process: server and generator.

const benchPayload = 64

// server is an echo server under test.
type server struct {
	name  string
	start func(b *testing.B) (netip.AddrPort, func())
}

func servers() []server {
	return []server{
		{"plain-ReadFrom", func(b *testing.B) (netip.AddrPort, func()) { return plainEcho(b, false) }},
		{"plain-AddrPort", func(b *testing.B) (netip.AddrPort, func()) { return plainEcho(b, true) }},
		{"netkit-batched", func(b *testing.B) (netip.AddrPort, func()) { return netkitEcho(b, &ListenerConfig{}) }},
		{"netkit-unbatched", func(b *testing.B) (netip.AddrPort, func()) { return netkitEcho(b, &ListenerConfig{BatchSize: 1}) }},
		{"netkit-workers2", func(b *testing.B) (netip.AddrPort, func()) { return netkitEcho(b, &ListenerConfig{Workers: 2}) }},
	}
}

// plainEcho is the baseline: a net.UDPConn read/write loop.
func plainEcho(b *testing.B, addrPort bool) (netip.AddrPort, func()) {
	uc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 2048)
		for {
			if addrPort {
				n, from, err := uc.ReadFromUDPAddrPort(buf)
				if err != nil {
					return
				}
				uc.WriteToUDPAddrPort(buf[:n], from)
			} else {
				n, from, err := uc.ReadFrom(buf)
				if err != nil {
					return
				}
				uc.WriteTo(buf[:n], from)
			}
		}
	})
	return uc.LocalAddr().(*net.UDPAddr).AddrPort(), func() { uc.Close(); wg.Wait() }
}

func netkitEcho(b *testing.B, cfg *ListenerConfig) (netip.AddrPort, func()) {
	cfg.LocalHost = "127.0.0.1"
	cfg.Logger = slog.New(slog.DiscardHandler)
	l, err := NewListener(0, cfg)
	if err != nil {
		b.Fatal(err)
	}
	l.Attach(Echo)
	if err := l.Start(); err != nil {
		b.Fatal(err)
	}
	return l.Addr().(*net.UDPAddr).AddrPort(), func() { l.GracefulStop(context.Background()) }
}

func BenchmarkListenerRoundTrip(b *testing.B) {
	for _, s := range servers() {
		b.Run(s.name, func(b *testing.B) {
			addr, stop := s.start(b)
			defer stop()
			uc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			defer uc.Close()
			msg, buf := make([]byte, benchPayload), make([]byte, 2048)
			b.ReportAllocs()
			b.SetBytes(benchPayload)
			for b.Loop() {
				uc.WriteToUDPAddrPort(msg, addr)
				if _, _, err := uc.ReadFromUDPAddrPort(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// generator drives quota echoes through addr from one socket and returns
// how many datagrams it had to give up on.
type generator func(b *testing.B, addr netip.AddrPort, quota, window int) (lost int)

func BenchmarkListenerThroughput(b *testing.B) {
	gens := []struct {
		name string
		gen  generator
	}{{"gen=plain", plainGen}, {"gen=mmsg", mmsgGen}, {"gen=gso", gsoGen}}
	for _, g := range gens {
		for _, s := range servers() {
			b.Run(g.name+"/"+s.name, func(b *testing.B) {
				if g.gen == nil {
					b.Skip("sendmmsg/recvmmsg generator is Linux only")
				}
				addr, stop := s.start(b)
				defer stop()
				const clients, window = 2, 32
				var mu sync.Mutex
				lost := 0
				b.ReportAllocs()
				b.SetBytes(benchPayload)
				b.ResetTimer()
				var wg sync.WaitGroup
				for i := range clients {
					quota := b.N / clients
					if i == 0 {
						quota += b.N % clients
					}
					wg.Go(func() {
						l := g.gen(b, addr, quota, window)
						mu.Lock()
						lost += l
						mu.Unlock()
					})
				}
				wg.Wait()
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
				b.ReportMetric(float64(lost)/float64(b.N), "lost/op")
			})
		}
	}
}

// plainGen sends and receives one datagram per system call.
func plainGen(b *testing.B, addr netip.AddrPort, quota, window int) int {
	uc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Error(err)
		return 0
	}
	defer uc.Close()
	msg, buf := make([]byte, benchPayload), make([]byte, 2048)
	got, inFlight, lost := 0, 0, 0
	for got < quota {
		for ; inFlight < window; inFlight++ {
			uc.WriteToUDPAddrPort(msg, addr)
		}
		if got%64 == 0 {
			uc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		}
		if _, _, err := uc.ReadFromUDPAddrPort(buf); err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				b.Error(err)
				return lost
			}
			lost += inFlight
			inFlight = 0
			uc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			continue
		}
		got++
		inFlight--
	}
	return lost
}

// BenchmarkClientRoundTrip compares netkit's Client with a plain
// net.UDPConn client against the same plain echo loop.
func BenchmarkClientRoundTrip(b *testing.B) {
	addr, stop := plainEcho(b, true)
	defer stop()
	msg, buf := make([]byte, benchPayload), make([]byte, 2048)
	ctx := context.Background()
	b.Run("plain-UDPConn", func(b *testing.B) {
		uc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		defer uc.Close()
		b.ReportAllocs()
		for b.Loop() {
			uc.WriteToUDPAddrPort(msg, addr)
			if _, _, err := uc.ReadFromUDPAddrPort(buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, into := range []bool{true, false} {
		name := "netkit-ReceiveDatagram"
		if into {
			name = "netkit-ReceiveDatagramInto"
		}
		b.Run(name, func(b *testing.B) {
			c, err := NewClient(ctx, &ClientConfig{LocalHost: "127.0.0.1"})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			d := Datagram{Addr: addr, Data: msg}
			b.ReportAllocs()
			for b.Loop() {
				if err := c.SendDatagram(ctx, d); err != nil {
					b.Fatal(err)
				}
				if into {
					_, _, err = c.ReceiveDatagramInto(ctx, buf)
				} else {
					_, err = c.ReceiveDatagram(ctx)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
