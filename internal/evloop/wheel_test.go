package evloop

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

const testTick = 10 * time.Millisecond

func TestWheelFiresOnTimeNeverEarly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := NewWheel(WheelConfig{Tick: testTick})
		defer w.Stop()
		var firedAt atomic.Int64
		var tm Timer
		tm.Init(w, func() { firedAt.Store(time.Now().UnixNano()) })
		fired := func() time.Time {
			if n := firedAt.Load(); n != 0 {
				return time.Unix(0, n)
			}
			return time.Time{}
		}
		start := time.Now()
		tm.Reset(time.Second)
		time.Sleep(time.Second - time.Nanosecond)
		synctest.Wait()
		if !fired().IsZero() {
			t.Fatalf("fired early, after %v", fired().Sub(start))
		}
		time.Sleep(testTick + time.Nanosecond)
		synctest.Wait()
		if fired().IsZero() {
			t.Fatal("did not fire within a tick of its time")
		}
		if late := fired().Sub(start) - time.Second; late < 0 || late > testTick {
			t.Fatalf("fired %v after its time", late)
		}
		if w.Pending() != 0 {
			t.Fatalf("pending = %d after firing", w.Pending())
		}
	})
}

func TestWheelResetPostponesAndStopCancels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := NewWheel(WheelConfig{Tick: testTick})
		defer w.Stop()
		var fires atomic.Int32
		var a, b Timer
		a.Init(w, func() { fires.Add(1) })
		b.Init(w, func() { t.Error("stopped timer fired") })
		if a.Reset(time.Second) {
			t.Fatal("Reset of a new timer reported it pending")
		}
		b.Reset(time.Second)
		time.Sleep(900 * time.Millisecond)
		if !a.Reset(time.Second) { // idle timeout: activity pushes it back
			t.Fatal("Reset of a pending timer reported it idle")
		}
		if !b.Stop() || b.Stop() {
			t.Fatal("Stop should report pending once")
		}
		time.Sleep(900 * time.Millisecond)
		synctest.Wait()
		if fires.Load() != 0 {
			t.Fatal("reset timer fired at its old time")
		}
		time.Sleep(200 * time.Millisecond)
		synctest.Wait()
		if fires.Load() != 1 {
			t.Fatalf("fires = %d, want 1", fires.Load())
		}
		if a.Stop() {
			t.Fatal("Stop after firing reported pending")
		}
	})
}

// TestWheelManyTimersBeyondOneTurn: timers further away than one turn of
// the wheel wait their rounds; each fires in [d, d+tick].
func TestWheelManyTimersBeyondOneTurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := NewWheel(WheelConfig{Tick: testTick, Slots: 64}) // one turn = 640 ms
		defer w.Stop()
		const n = 2000
		timers := make([]Timer, n)
		due := make([]time.Duration, n)
		got := make([]atomic.Int64, n)
		start := time.Now()
		r := rand.New(rand.NewPCG(1, 2))
		for i := range timers {
			due[i] = time.Duration(r.Int64N(int64(5 * time.Second)))
			timers[i].Init(w, func() { got[i].Store(int64(time.Since(start))) })
			timers[i].Reset(due[i])
		}
		time.Sleep(5*time.Second + 2*testTick)
		synctest.Wait()
		for i := range timers {
			at := time.Duration(got[i].Load())
			if late := at - due[i]; at == 0 || late < 0 || late > testTick {
				t.Fatalf("timer %d due %v fired at %v", i, due[i], at)
			}
		}
	})
}

// TestWheelKeepaliveCost: 19 000 connections with a 30 s keepalive each
// (re-armed from its callback) for two minutes. The wheel's runtime timer
// runs at most once a tick, not once a timer, and an empty wheel not at
// all.
func TestWheelKeepaliveCost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n, period, span = 19000, 30 * time.Second, 2 * time.Minute
		w := NewWheel(WheelConfig{Tick: 100 * time.Millisecond})
		defer w.Stop()
		timers := make([]Timer, n)
		var fires atomic.Int64
		for i := range timers {
			timers[i].Init(w, func() { fires.Add(1); timers[i].Reset(period) })
			timers[i].Reset(time.Duration(i) * period / n) // spread out
		}
		time.Sleep(span)
		synctest.Wait()
		if want := int64(n * int(span/period)); fires.Load() < want-n || fires.Load() > want+n {
			t.Fatalf("fires = %d, want about %d", fires.Load(), want)
		}
		if max := int64(span / (100 * time.Millisecond)); w.wakeups() > max+1 {
			t.Fatalf("runtime timer ran %d times in %v, want <= %d (one per tick)", w.wakeups(), span, max)
		}
		t.Logf("%d keepalives over %v: %d fires, %d wheel wake-ups", n, span, fires.Load(), w.wakeups())
		for i := range timers {
			timers[i].Stop()
		}
		runs := w.wakeups()
		time.Sleep(time.Minute)
		synctest.Wait()
		if w.wakeups() > runs+1 {
			t.Fatalf("an empty wheel woke %d times", w.wakeups()-runs)
		}
	})
}

func TestWheelStopDropsTimers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := NewWheel(WheelConfig{})
		var tm Timer
		tm.Init(w, func() { t.Error("fired after Wheel.Stop") })
		tm.Reset(time.Second)
		w.Stop()
		if w.Pending() != 0 || tm.Stop() {
			t.Fatal("timers still pending after Wheel.Stop")
		}
		tm.Reset(time.Second)
		time.Sleep(2 * time.Second)
		synctest.Wait()
	})
}

// TestWheelConcurrent resets and stops timers from many goroutines while
// the wheel fires them (run it with -race).
func TestWheelConcurrent(t *testing.T) {
	w := NewWheel(WheelConfig{Tick: time.Millisecond, Slots: 8})
	defer w.Stop()
	timers := make([]Timer, 64)
	var mu sync.Mutex
	fired := 0
	for i := range timers {
		timers[i].Init(w, func() { mu.Lock(); fired++; mu.Unlock() })
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for range 5000 {
				tm := &timers[r.IntN(len(timers))]
				if r.IntN(3) == 0 {
					tm.Stop()
				} else {
					tm.Reset(time.Duration(r.IntN(3000)) * time.Microsecond)
				}
			}
		})
	}
	wg.Wait()
	for i := range timers {
		timers[i].Stop()
	}
	if w.Pending() != 0 {
		t.Fatalf("pending = %d after stopping every timer", w.Pending())
	}
}

func BenchmarkWheel(b *testing.B) {
	w := NewWheel(WheelConfig{})
	defer w.Stop()
	timers := make([]Timer, 1024)
	for i := range timers {
		timers[i].Init(w, func() {})
		timers[i].Reset(time.Minute)
	}
	b.Run("reset", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			timers[i&1023].Reset(30 * time.Second)
			i++
		}
	})
	b.Run("stop+start", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			t := &timers[i&1023]
			t.Stop()
			t.Reset(30 * time.Second)
			i++
		}
	})
	b.Run("runtime-timer-reset", func(b *testing.B) { // for comparison
		b.ReportAllocs()
		rts := make([]*time.Timer, 1024)
		for i := range rts {
			rts[i] = time.AfterFunc(time.Minute, func() {})
		}
		i := 0
		for b.Loop() {
			rts[i&1023].Reset(30 * time.Second)
			i++
		}
		for _, t := range rts {
			t.Stop()
		}
	})
}

// wakeups reports how often the runtime timer ran.
func (w *Wheel) wakeups() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.runs
}
