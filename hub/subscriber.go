package hub

import (
	"context"
	"errors"
	"sync"

	"github.com/netkit-go/netkit/websocket"
)

// Writer states.
const (
	running   = iota
	finishing // write what is queued, then exit
	closing   // discard what is queued and exit
)

// subscriber is one subscribed connection: its bounded queue and the
// writer goroutine that empties it, so that a publisher never waits on a
// connection's socket.
type subscriber struct {
	h *Hub
	c *websocket.Conn

	// Under h.mu.
	entries   map[string]*entry
	pos       map[*entry]int // index in entry.members
	stopWatch func() bool    // stops the context.AfterFunc

	mu      sync.Mutex
	q       []*websocket.PreparedMessage // ring
	head, n int
	state   int
	waiting bool          // the writer waits on wake
	wake    chan struct{} // capacity 1
}

// newSubscriber registers c and starts its writer (h.mu held).
func (h *Hub) newSubscriber(c *websocket.Conn) *subscriber {
	s := &subscriber{h: h, c: c, entries: make(map[string]*entry), pos: make(map[*entry]int),
		q: make([]*websocket.PreparedMessage, h.queueSize), wake: make(chan struct{}, 1)}
	h.subs[c] = s
	s.stopWatch = context.AfterFunc(c.Context(), func() { h.connEnded(s) })
	h.wg.Add(1)
	go s.run()
	return s
}

// connEnded removes s when its connection ends; the writer then tries what
// is queued (the writes fail at once if the connection is gone).
func (h *Hub) connEnded(s *subscriber) {
	if h.remove(s) {
		s.finish()
	}
}

// remove detaches s from the hub; false if it was not attached.
func (h *Hub) remove(s *subscriber) bool {
	h.mu.Lock()
	if h.subs[s.c] != s {
		h.mu.Unlock()
		return false
	}
	delete(h.subs, s.c)
	s.stopWatch()
	var cancels []*entry
	for _, e := range s.entries {
		if h.leaveLocked(s, e) {
			cancels = append(cancels, e)
		}
	}
	h.mu.Unlock()
	for _, e := range cancels {
		h.cancelBroker(e)
	}
	return true
}

// push queues pm under policy p; it reports whether pm was queued. Called
// with the entry's lock held, it never blocks on I/O.
func (s *subscriber) push(pm *websocket.PreparedMessage, p Policy) bool {
	s.mu.Lock()
	if s.state != running {
		s.mu.Unlock()
		return false
	}
	if s.n == len(s.q) {
		switch p {
		case DropNewest:
			s.mu.Unlock()
			s.h.droppedNewest.Add(1)
			return false
		case Disconnect:
			s.state = closing
			s.wakeLocked()
			s.mu.Unlock()
			s.h.disconnected.Add(1)
			s.h.wg.Add(1)
			go s.disconnect()
			return false
		default:
			s.q[s.head] = nil
			s.head = (s.head + 1) % len(s.q)
			s.n--
			s.h.droppedOldest.Add(1)
		}
	}
	s.q[(s.head+s.n)%len(s.q)] = pm
	s.n++
	s.wakeLocked()
	s.mu.Unlock()
	return true
}

// wakeLocked wakes the writer if it waits (s.mu held).
func (s *subscriber) wakeLocked() {
	if s.waiting {
		s.waiting = false
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// finish lets the writer write what is queued and exit.
func (s *subscriber) finish() { s.setState(finishing) }

// abort makes the writer discard what is queued and exit.
func (s *subscriber) abort() { s.setState(closing) }

func (s *subscriber) setState(st int) {
	s.mu.Lock()
	if s.state < st {
		s.state = st
	}
	s.wakeLocked()
	s.mu.Unlock()
}

// run is the writer: it writes the queue in order, one message at a time.
func (s *subscriber) run() {
	defer s.h.wg.Done()
	for {
		s.mu.Lock()
		for s.n == 0 && s.state == running {
			s.waiting = true
			s.mu.Unlock()
			<-s.wake
			s.mu.Lock()
		}
		if s.state == closing || s.n == 0 {
			n := s.n
			clear(s.q)
			s.n = 0
			s.mu.Unlock()
			if n > 0 {
				s.h.discarded.Add(uint64(n))
			}
			return
		}
		pm := s.q[s.head]
		s.q[s.head] = nil
		s.head = (s.head + 1) % len(s.q)
		s.n--
		s.mu.Unlock()
		// Background: the connection's WriteTimeout bounds the write, and a
		// cancellable context would cost an allocation per write.
		if err := s.c.WritePreparedMessage(context.Background(), pm); err != nil {
			s.h.writeErrors.Add(1)
			if s.c.IsOpen() && errors.Is(err, websocket.ErrSendQueueFull) {
				continue // too many other writers: this one message is lost
			}
			// The connection failed: it leaves the hub.
			s.abort()
			s.h.remove(s)
			continue
		}
		s.h.sent.Add(1)
	}
}

// disconnect closes a slow subscriber (the Disconnect policy).
func (s *subscriber) disconnect() {
	defer s.h.wg.Done()
	s.h.remove(s)
	ctx := context.Background()
	if s.h.closeTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.h.closeTimeout)
		defer cancel()
	}
	s.c.Close(ctx, s.h.closeCode, s.h.closeReason)
}
