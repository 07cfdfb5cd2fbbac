package engine

import "time"

// TimerFace is an optional extension of a [StreamFace] for faces with
// timers (idle timeouts, keepalive pings, close-handshake deadlines). The
// stream loop asks NextTimer before each read; while the connection waits
// for data, the read is bounded by that time, and when it has passed the
// loop calls Timer on the connection's goroutine, never concurrently with
// Open, Data or Closed. An idle connection still holds no buffer: the wait
// is the same bufferless readiness wait with a deadline.
type TimerFace interface {
	// NextTimer returns when Timer should run next; the zero time means no
	// timer is pending.
	NextTimer() time.Time
	// Timer runs once NextTimer's time has passed. A non-nil error closes
	// the connection at once (Closed follows); [ErrCloseGracefully] closes
	// it gracefully.
	Timer(c *Conn) error
}

// runTimers fires the face's due timers (a bounded number of rounds) and
// arms the read deadline for the next one. The caller checks the state
// afterwards: Shutdown's wake-up deadline may have been overwritten here,
// but Shutdown changes the state first, so a re-check never misses it.
func (c *Conn) runTimers(tf TimerFace) error {
	for range 4 {
		at := tf.NextTimer()
		if at.IsZero() {
			if !c.timerAt.IsZero() {
				c.timerAt = time.Time{}
				c.nc.SetReadDeadline(time.Time{})
			}
			return nil
		}
		if time.Now().Before(at) {
			if !at.Equal(c.timerAt) {
				c.timerAt = at
				c.nc.SetReadDeadline(at)
			}
			return nil
		}
		var err error
		if p := c.safely(func() { err = tf.Timer(c) }); p != nil {
			return p
		}
		if err != nil {
			return err
		}
	}
	return nil
}
