package goid

import (
	"testing"

	"github.com/netkit-go/netkit/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func TestCurrentDiffersAcrossGoroutines(t *testing.T) {
	me := Current()
	if me == 0 || Current() != me {
		t.Fatalf("Current() = %d, not stable", me)
	}
	other := make(chan uint64)
	go func() { other <- Current() }()
	if o := <-other; o == 0 || o == me {
		t.Fatalf("other goroutine id %d, mine %d", o, me)
	}
}
