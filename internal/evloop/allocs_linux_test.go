//go:build linux && !race

package evloop

import (
	"io"
	"testing"
)

// TestEchoAllocs: the steady-state echo path (readiness, queue, read into
// a pooled buffer, Data, Write, buffer back) allocates nothing.
func TestEchoAllocs(t *testing.T) {
	p := newPoller(t, Config{})
	cl, fd := pair(t)
	if _, err := p.Register(fd, newEcho(), nil); err != nil {
		t.Fatal(err)
	}
	msg := make([]byte, 64)
	got := make([]byte, 64)
	roundTrip(t, cl, msg)
	if n := testing.AllocsPerRun(500, func() {
		cl.Write(msg)
		io.ReadFull(cl, got)
	}); n != 0 {
		t.Fatalf("echo allocates %v times per message", n)
	}
}
