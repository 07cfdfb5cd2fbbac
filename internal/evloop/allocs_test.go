//go:build !race

package evloop

import (
	"testing"
	"time"
)

func TestWheelAllocs(t *testing.T) {
	w := NewWheel(WheelConfig{})
	defer w.Stop()
	var tm Timer
	tm.Init(w, func() {})
	if n := testing.AllocsPerRun(1000, func() {
		tm.Reset(time.Minute)
		tm.Reset(30 * time.Second)
		tm.Stop()
	}); n != 0 {
		t.Fatalf("Reset/Stop allocate %v times", n)
	}
}
