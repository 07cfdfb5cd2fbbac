package evloop

import (
	"sync"
	"time"
)

// Defaults of [WheelConfig].
const (
	// DefaultTick is the wheel's resolution.
	DefaultTick = 10 * time.Millisecond
	// DefaultSlots is the number of slots; with DefaultTick one turn of
	// the wheel spans 5.12 s (later timers wait in their slot for rounds).
	DefaultSlots = 512
)

// WheelConfig sets up a [Wheel]. The zero value is valid.
type WheelConfig struct {
	// Tick is the resolution: timers fire at or after their time, at most
	// one tick late. <= 0 means DefaultTick.
	Tick time.Duration
	// Slots is rounded up to a power of two; <= 0 means DefaultSlots.
	Slots int
}

// Wheel is a hashed timing wheel shared by many connections' timers (idle
// timeouts, keepalive pings, pong, close and linger bounds). Starting,
// resetting and stopping a [Timer] are O(1) and allocate nothing; the
// wheel holds one runtime timer, armed only for the next non-empty slot,
// so a wheel with no pending timer costs nothing and one with 19 000
// keepalives wakes at most once a tick.
type Wheel struct {
	mu     sync.Mutex
	tick   time.Duration
	start  time.Time
	slots  []Timer // sentinels of circular lists
	mask   int64
	cur    int64 // last tick processed
	count  int   // pending timers
	firing Timer // sentinel: due timers not yet run
	rt     *time.Timer
	armed  int64 // tick rt is armed for; -1 when not armed
	closed bool
	runs   int64 // runtime timer callbacks, for tests
}

// Timer is one timer on a [Wheel]. Embed it in the struct it serves (no
// allocation) and set it up once with [Timer.Init].
type Timer struct {
	w          *Wheel
	f          func()
	prev, next *Timer
	when       int64 // tick
}

// NewWheel returns a wheel. Its runtime timer runs only while timers are
// pending; [Wheel.Stop] drops them all.
func NewWheel(cfg WheelConfig) *Wheel {
	if cfg.Tick <= 0 {
		cfg.Tick = DefaultTick
	}
	if cfg.Slots <= 0 {
		cfg.Slots = DefaultSlots
	}
	n := 1
	for n < cfg.Slots {
		n <<= 1
	}
	w := &Wheel{tick: cfg.Tick, start: time.Now(), slots: make([]Timer, n), mask: int64(n - 1), armed: -1}
	for i := range w.slots {
		w.slots[i].prev, w.slots[i].next = &w.slots[i], &w.slots[i]
	}
	w.firing.prev, w.firing.next = &w.firing, &w.firing
	w.rt = time.AfterFunc(time.Hour, w.run)
	w.rt.Stop()
	return w
}

// Init ties t to w; f runs on the wheel's goroutine when t fires. f must
// not block: it should hand the work to the connection's turn (for the
// event loop, [Conn.Wake]). f may reset or stop any timer.
func (t *Timer) Init(w *Wheel, f func()) {
	t.w, t.f = w, f
}

// Reset (re)starts t to fire after d. It reports whether t was pending.
func (t *Timer) Reset(d time.Duration) bool {
	w := t.w
	elapsed := time.Since(w.start) + d
	when := int64((elapsed + w.tick - 1) / w.tick) // ceil: never early
	w.mu.Lock()
	pending := t.unlink()
	if w.closed {
		w.mu.Unlock()
		return pending
	}
	when = max(when, w.cur+1)
	t.when = when
	t.linkBefore(&w.slots[when&w.mask])
	w.count++
	if w.armed < 0 || when < w.armed {
		w.arm(when)
	}
	w.mu.Unlock()
	return pending
}

// Stop stops t. It reports whether t was pending; false means it had
// fired (or was never started). A timer whose f is already running is
// not waited for.
func (t *Timer) Stop() bool {
	w := t.w
	w.mu.Lock()
	pending := t.unlink()
	w.mu.Unlock()
	return pending
}

// unlink removes t from its slot or from the firing list. w.mu is held.
func (t *Timer) unlink() bool {
	if t.next == nil {
		return false
	}
	if t.when >= 0 {
		t.w.count--
	}
	t.prev.next, t.next.prev = t.next, t.prev
	t.prev, t.next = nil, nil
	return true
}

func (t *Timer) linkBefore(s *Timer) {
	t.prev, t.next = s.prev, s
	s.prev.next = t
	s.prev = t
}

// arm sets the runtime timer for tick when. w.mu is held.
func (w *Wheel) arm(when int64) {
	w.armed = when
	w.rt.Reset(time.Duration(when)*w.tick - time.Since(w.start))
}

// run is the runtime timer's callback: it moves the due timers of every
// slot passed since the last run to the firing list, re-arms for the next
// non-empty slot, then runs them one by one without the lock.
func (w *Wheel) run() {
	w.mu.Lock()
	w.armed = -1
	w.runs++
	if w.closed {
		w.mu.Unlock()
		return
	}
	now := int64(time.Since(w.start) / w.tick)
	from := w.cur + 1
	if now-from >= int64(len(w.slots)) {
		from = now - int64(len(w.slots)) + 1 // every slot once
	}
	for k := from; k <= now; k++ {
		s := &w.slots[k&w.mask]
		for t := s.next; t != s; {
			next := t.next
			if t.when <= now {
				t.unlink()
				t.when = -1 // on the firing list: not counted
				t.linkBefore(&w.firing)
			}
			t = next
		}
	}
	w.cur = max(w.cur, now)
	if w.count > 0 {
		for k := now + 1; k <= now+int64(len(w.slots)); k++ {
			if s := &w.slots[k&w.mask]; s.next != s {
				w.arm(k)
				break
			}
		}
	}
	for {
		t := w.firing.next
		if t == &w.firing {
			break
		}
		t.unlink()
		f := t.f
		w.mu.Unlock()
		f()
		w.mu.Lock()
	}
	w.mu.Unlock()
}

// Pending reports the timers waiting to fire.
func (w *Wheel) Pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.count
}

// Stop drops every pending timer and stops the runtime timer; later
// Resets do nothing. A callback already running is not waited for.
func (w *Wheel) Stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	w.rt.Stop()
	for i := range w.slots {
		s := &w.slots[i]
		for s.next != s {
			s.next.unlink()
		}
	}
	for w.firing.next != &w.firing {
		w.firing.next.unlink()
	}
}
