//go:build !race

package bufpool

import "testing"

func TestGetPutAllocs(t *testing.T) {
	if Debug {
		t.Skip("allocation figures are for release builds")
	}
	Put(Get(2))
	if n := testing.AllocsPerRun(1000, func() { Put(Get(2)) }); n != 0 {
		t.Fatalf("Get/Put allocates %v per call", n)
	}
}
