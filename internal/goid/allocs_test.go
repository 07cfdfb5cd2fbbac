//go:build !race

package goid

import "testing"

func TestCurrentAllocatesNothing(t *testing.T) {
	Current()
	if n := testing.AllocsPerRun(100, func() { Current() }); n != 0 {
		t.Fatalf("Current allocates %v times", n)
	}
}
