//go:build !race

package tcp_test

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/netkit-go/netkit/tcp"
)

// A 1 KiB echo through a Listener allocates nothing per message on the
// server. The client is a raw net.Conn with preallocated buffers, whose
// Write and io.ReadFull allocate nothing, so every allocation counted would
// be the server's.
func TestEchoServerAllocatesNothingPerMessage(t *testing.T) {
	l := listen(t, tcp.EchoService, nil)
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	msg, buf := make([]byte, 1024), make([]byte, 1024)
	for i := range msg {
		msg[i] = byte(i)
	}
	var failed error
	roundTrip := func() {
		if _, err := nc.Write(msg); err != nil {
			failed = err
			return
		}
		if _, err := io.ReadFull(nc, buf); err != nil {
			failed = err
		}
	}
	for range 100 { // warm up: pools, buffer classes, timers
		roundTrip()
	}
	allocs := testing.AllocsPerRun(2000, roundTrip)
	if failed != nil {
		t.Fatal(failed)
	}
	if allocs != 0 {
		t.Fatalf("1 KiB echo allocates %v times per message", allocs)
	}
}

// Client.WriteBytes and Client.Read allocate nothing with
// context.Background() (the server's echo is included in the count, so it is
// checked too).
func TestClientReadWriteAllocateNothing(t *testing.T) {
	l := listen(t, tcp.EchoService, nil)
	c := dial(t, l, nil)
	for _, tc := range []struct {
		name string
		ctx  context.Context
	}{{"Background", context.Background()}} {
		// A ctx that can be cancelled (a deadline ctx too: it may be
		// cancelled early) costs one context.AfterFunc per call, so only
		// context.Background() is allocation-free; see the package doc.
		t.Run(tc.name, func(t *testing.T) {
			msg, buf := make([]byte, 1024), make([]byte, 1024)
			var failed error
			roundTrip := func() {
				if err := c.WriteBytes(tc.ctx, msg); err != nil {
					failed = err
					return
				}
				for got := 0; got < len(buf); {
					n, err := c.Read(tc.ctx, buf[got:])
					got += n
					if err != nil {
						failed = err
						return
					}
				}
			}
			for range 100 {
				roundTrip()
			}
			allocs := testing.AllocsPerRun(2000, roundTrip)
			if failed != nil {
				t.Fatal(failed)
			}
			if allocs != 0 {
				t.Fatalf("WriteBytes + Read allocate %v times per round trip", allocs)
			}
		})
	}
}
