//go:build !race

package socket_test

import (
	"io"
	"net"
	"testing"
)

// The steady-state message path: a 0.990 echo allocates nothing per
// message; a 1.x echo allocates only the bytes Read returns (owned by the
// caller, as Ballerina's byte[] was).
func TestEchoAllocs(t *testing.T) {
	for _, tc := range []struct {
		name string
		svc  any
		max  float64
	}{
		{"0990", echoService{}, 0},
		{"1x", pullEcho{}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := listen(t, tc.svc, nil)
			nc, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			msg, buf := make([]byte, 64), make([]byte, 64)
			roundTrip := func() {
				if _, err := nc.Write(msg); err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(nc, buf); err != nil {
					t.Fatal(err)
				}
			}
			for range 50 { // warm the pools and the connection's buffer class
				roundTrip()
			}
			// A fraction above max tolerates the odd runtime allocation.
			if n := testing.AllocsPerRun(500, roundTrip); n > tc.max+0.1 {
				t.Fatalf("%v allocations per round trip, want at most %v", n, tc.max)
			}
		})
	}
}
