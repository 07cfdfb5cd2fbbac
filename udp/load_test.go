package udp_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netkit-go/netkit/udp"
)

// A bounded load test: 100,000 datagrams through a listener echo from
// several clients, each keeping a window of datagrams in flight. It reports
// what was delivered and lost; afterwards the heap and the goroutine count
// are back where they started.
func TestLoadEcho(t *testing.T) {
	const (
		total   = 100_000
		clients = 4
		window  = 32
		per     = total / clients
	)
	gBase := runtime.NumGoroutine()
	heapBase := heapInUse()

	l, _ := startListener(t, &udp.ListenerConfig{}, udp.Echo)
	var delivered, sent, corrupt atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	dst := l.Addr()
	for range clients {
		c, err := udp.NewClient(context.Background(), &udp.ClientConfig{LocalHost: "127.0.0.1", Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer c.Close()
			ap := netipOf(dst)
			buf := make([]byte, 64)
			out := make([]byte, 64)
			next, inFlight := 0, 0
			for next < per || inFlight > 0 {
				for inFlight < window && next < per {
					binary.BigEndian.PutUint64(out, uint64(next))
					if err := c.SendDatagram(context.Background(), udp.Datagram{Addr: ap, Data: out}); err != nil {
						t.Errorf("send: %v", err)
						return
					}
					next++
					inFlight++
					sent.Add(1)
				}
				// A reply missing for 100 ms counts as lost. (Sends get the
				// client's 5 s Timeout: a starved machine must not fail them.)
				rctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				n, _, err := c.ReceiveDatagramInto(rctx, buf)
				cancel()
				switch {
				case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
					inFlight = 0 // the rest of the window is lost
				case err != nil:
					t.Errorf("receive: %v", err)
					return
				default:
					if n != 64 || binary.BigEndian.Uint64(buf) >= uint64(per) {
						corrupt.Add(1)
					}
					delivered.Add(1)
					if inFlight > 0 {
						inFlight--
					}
				}
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	stopListener(t, l)
	d, s := delivered.Load(), sent.Load()
	t.Logf("%d sent, %d delivered, %d lost (%.2f%%) in %v (%.0f round trips/s); listener stats %+v",
		s, d, s-d, 100*float64(s-d)/float64(s), el.Round(time.Millisecond), float64(d)/el.Seconds(), l.Stats())
	if s != total {
		t.Fatalf("sent %d, want %d", s, total)
	}
	if corrupt.Load() != 0 {
		t.Fatalf("%d corrupt replies", corrupt.Load())
	}
	if d < total/2 {
		t.Fatalf("only %d of %d delivered", d, total)
	}

	// Goroutines back to the baseline (bounded wait for exiting ones).
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > gBase && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if g := runtime.NumGoroutine(); g > gBase {
		t.Fatalf("%d goroutines, baseline %d", g, gBase)
	}
	heap := heapInUse()
	t.Logf("heap in use: %d KiB before, %d KiB after", heapBase>>10, heap>>10)
	if heap > heapBase+1<<20 {
		t.Fatalf("heap in use grew by %d KiB", (heap-heapBase)>>10)
	}
}

func heapInUse() uint64 {
	// Two cycles empty sync.Pools (the second clears the victim cache).
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}
