//go:build linux

package evloop

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/netkit-go/netkit/internal/bufpool"
)

// cpuTime is the process's user plus system CPU time so far.
func cpuTime() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// goroutineEcho is the comparison: one goroutine per connection, reading
// into a pooled buffer, like the engine's goroutine backend.
func goroutineEcho(nc net.Conn, wg *sync.WaitGroup) {
	wg.Go(func() {
		defer nc.Close()
		b := bufpool.Get(0)
		defer bufpool.Put(b)
		for {
			n, err := nc.Read(*b)
			if err != nil {
				return
			}
			if _, err := nc.Write((*b)[:n]); err != nil {
				return
			}
		}
	})
}

// BenchmarkEcho ping-pongs 64-byte messages over loopback through the
// poller and, for comparison, through a goroutine-per-connection server.
// An op is one message echoed; the client side is the same in both.
func BenchmarkEcho(b *testing.B) {
	for _, conns := range []int{1, 64} {
		for _, backend := range []string{"evloop", "goroutine"} {
			b.Run(backend+"/conns="+itoa(conns), func(b *testing.B) {
				ln := listener(b)
				var wg sync.WaitGroup
				var p *Poller
				if backend == "evloop" {
					p = newPoller(b, Config{})
				}
				clients := make([]net.Conn, conns)
				for i := range clients {
					if p != nil {
						var fd int
						clients[i], fd = pairOn(b, ln)
						if _, err := p.Register(fd, newEcho(), nil); err != nil {
							b.Fatal(err)
						}
						continue
					}
					cl, err := net.Dial("tcp", ln.Addr().String())
					if err != nil {
						b.Fatal(err)
					}
					clients[i] = cl
					sc, err := ln.Accept()
					if err != nil {
						b.Fatal(err)
					}
					goroutineEcho(sc, &wg)
				}
				msg := make([]byte, 64)
				b.ReportAllocs()
				b.SetBytes(int64(len(msg)))
				b.ResetTimer()
				cpu0 := cpuTime()
				var cwg sync.WaitGroup
				per := b.N / conns
				for i, cl := range clients {
					n := per
					if i == 0 {
						n += b.N % conns
					}
					cwg.Go(func() {
						got := make([]byte, len(msg))
						for range n {
							if _, err := cl.Write(msg); err != nil {
								b.Error(err)
								return
							}
							if _, err := io.ReadFull(cl, got); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				cwg.Wait()
				b.StopTimer()
				// CPU of client and server together: the client is the same
				// for both backends, so the difference is the server's.
				b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
				for _, cl := range clients {
					cl.Close()
				}
				wg.Wait()
			})
		}
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// BenchmarkDetach is the cost of taking an accepted connection from Go's
// poller (dup, the runtime's unregister and close of the original, set
// non-blocking) and registering it with the poller; the dial and accept
// before it are excluded (done in batches with the timer stopped).
func BenchmarkDetach(b *testing.B) {
	p := newPoller(b, Config{})
	ln := listener(b)
	h := nopHandler{}
	b.ReportAllocs()
	var cpu time.Duration
	for done := 0; done < b.N; {
		b.StopTimer()
		batch := min(b.N-done, 2000)
		cls := make([]net.Conn, batch)
		scs := make([]net.Conn, batch)
		for i := range scs {
			var err error
			if cls[i], err = net.Dial("tcp", ln.Addr().String()); err != nil {
				b.Fatal(err)
			}
			if scs[i], err = ln.Accept(); err != nil {
				b.Fatal(err)
			}
		}
		conns := make([]*Conn, batch)
		b.StartTimer()
		cpu0 := cpuTime()
		for i, sc := range scs {
			fd, err := Detach(sc)
			if err != nil {
				b.Fatal(err)
			}
			if conns[i], err = p.Register(fd, h, nil); err != nil {
				b.Fatal(err)
			}
		}
		cpu += cpuTime() - cpu0
		b.StopTimer()
		for i, c := range conns {
			c.Close(nil)
			cls[i].Close()
		}
		done += batch
	}
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
}

type nopHandler struct{}

func (nopHandler) Data(c *Conn, p []byte) (int, error) { return len(p), nil }
func (nopHandler) EOF(c *Conn) error                   { return nil }
func (nopHandler) Closed(c *Conn, err error)           {}
