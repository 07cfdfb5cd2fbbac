//go:build !race

package udp_test

import (
	"context"
	"testing"
	"time"

	"github.com/netkit-go/netkit/udp"
)

// The steady-state datagram path allocates nothing: client send, listener
// receive, handler, reply (returned or through the Caller), client receive.
// AllocsPerRun counts the allocations of every goroutine, so the
// listener's read loop and workers are included.
func TestEchoAllocs(t *testing.T) {
	services := map[string]udp.Service{
		"OnBytes": udp.Echo,
		"Caller.SendBytes": udp.BytesFunc(func(c udp.Caller, b []byte) ([]byte, error) {
			return nil, c.SendBytes(context.Background(), b)
		}),
		"OnDatagram": udp.DatagramFunc(func(c udp.Caller, d udp.Datagram) (udp.Datagram, error) {
			return d, nil
		}),
	}
	for name, svc := range services {
		t.Run(name, func(t *testing.T) {
			forModes(t, func(t *testing.T, m mode) {
				cfg := &udp.ListenerConfig{}
				m.cfg(cfg)
				_, addr := startListener(t, cfg, svc)
				c := newClient(t, nil)
				msg := []byte("0123456789abcdef0123456789abcdef")
				buf := make([]byte, 2048)
				ctx := context.Background()
				d := udp.Datagram{Addr: addr, Data: msg}
				echo := func() {
					if err := c.SendDatagram(ctx, d); err != nil {
						t.Fatal(err)
					}
					if n, _, err := c.ReceiveDatagramInto(ctx, buf); err != nil || n != len(msg) {
						t.Fatalf("receive: %d bytes, %v", n, err)
					}
				}
				for range 200 { // warm the pools
					echo()
				}
				if n := testing.AllocsPerRun(2000, echo); n != 0 {
					t.Fatalf("%v allocations per round trip", n)
				}
			})
		})
	}
}

func TestConnectClientAllocs(t *testing.T) {
	_, addr := startListener(t, nil, udp.Echo)
	c, err := udp.NewConnectClient(context.Background(), "127.0.0.1", int(addr.Port()), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := []byte("ping")
	buf := make([]byte, 64)
	// A deadline-only context costs nothing either.
	var ctx context.Context = deadlineOnly{time.Now().Add(time.Hour)}
	rt := func() {
		if err := c.WriteBytes(ctx, msg); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(ctx, buf); err != nil {
			t.Fatal(err)
		}
	}
	for range 100 {
		rt()
	}
	if n := testing.AllocsPerRun(1000, rt); n != 0 {
		t.Fatalf("%v allocations per round trip", n)
	}
	// ReadBytes allocates exactly the returned payload.
	rb := func() {
		if err := c.WriteBytes(ctx, msg); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ReadBytes(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := testing.AllocsPerRun(1000, rb); n != 1 {
		t.Fatalf("ReadBytes: %v allocations per round trip, want 1", n)
	}
}

// deadlineOnly is a context with a deadline that is never cancelled.
type deadlineOnly struct{ d time.Time }

func (c deadlineOnly) Deadline() (time.Time, bool) { return c.d, true }
func (deadlineOnly) Done() <-chan struct{}         { return nil }
func (deadlineOnly) Err() error                    { return nil }
func (deadlineOnly) Value(any) any                 { return nil }
