package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/netkit-go/netkit/internal/obs"
	"github.com/netkit-go/netkit/websocket"
)

// Policy says what happens when a message is delivered to a subscriber
// whose queue is full.
type Policy int

// The slow-consumer policies.
const (
	// DropOldest discards the oldest queued message to make room (live
	// data: the subscriber skips ahead). The default.
	DropOldest Policy = iota
	// DropNewest discards the message being delivered (the subscriber
	// keeps what it has and misses what comes while it is behind).
	DropNewest
	// Disconnect closes the subscriber's connection with Config.CloseCode
	// and discards what is queued for it.
	Disconnect
)

// String returns "drop-oldest", "drop-newest" or "disconnect".
func (p Policy) String() string {
	switch p {
	case DropOldest:
		return "drop-oldest"
	case DropNewest:
		return "drop-newest"
	case Disconnect:
		return "disconnect"
	}
	return "Policy(" + strconv.Itoa(int(p)) + ")"
}

// ParsePolicy returns the Policy named s (as Policy.String writes it).
func ParsePolicy(s string) (Policy, error) {
	for _, p := range []Policy{DropOldest, DropNewest, Disconnect} {
		if p.String() == s {
			return p, nil
		}
	}
	return 0, errors.New("hub: unknown policy " + strconv.Quote(s) + " (drop-oldest, drop-newest or disconnect)")
}

// Defaults of Config.
const (
	DefaultQueueSize    = 64
	DefaultCloseCode    = 1008 // policy violation
	DefaultCloseReason  = "slow consumer"
	DefaultCloseTimeout = 5 * time.Second
)

// Config configures a Hub. The zero value is valid.
type Config struct {
	// Broker carries messages to and from the other nodes; the Hub owns
	// it and closes it when it stops. Default: a node of a new
	// MemoryBus (a single-node hub).
	Broker Broker
	// QueueSize bounds each subscriber's queue, in messages. Default 64.
	QueueSize int
	// Policy applies when a subscriber's queue is full. Default
	// DropOldest.
	Policy Policy
	// PolicyFor, if set, chooses the policy per subscription pattern (it
	// is called once, when a pattern gets its first subscriber on this
	// node) instead of Policy.
	PolicyFor func(pattern string) Policy
	// CloseCode and CloseReason close a subscriber dropped by the
	// Disconnect policy. Default 1008, "slow consumer".
	CloseCode   int
	CloseReason string
	// CloseTimeout bounds that close: waiting for the subscriber's write
	// in progress and for the close echo; after it the TCP connection is
	// closed. Default 5 s; negative: none of its own (the connection's
	// WriteTimeout and ConnectionClosureTimeout still apply).
	CloseTimeout time.Duration
	// Logger receives the hub's warnings. Default slog.Default().
	Logger *slog.Logger
	// MeterProvider, if set, receives the hub's metrics (docs/metrics.md:
	// subscribers, topics, deliveries, drops by policy), read from the
	// counts of Stats when the provider collects, so that publishing and
	// delivering cost nothing more. The broker's round trip is the
	// broker's own (natsbroker.Config.MeterProvider). Default: none, no
	// metrics.
	MeterProvider metric.MeterProvider
}

// Stats are a hub's counters, since it was created.
type Stats struct {
	Subscribers int // connections with a writer (subscribed at least once, not ended)
	Patterns    int // distinct subscription patterns on this node

	Published uint64 // messages accepted by Publish and PublishPrepared
	Received  uint64 // messages received from other nodes through the broker
	Queued    uint64 // deliveries queued for a subscriber
	Sent      uint64 // deliveries written to a subscriber's connection

	DroppedOldest uint64 // queued deliveries discarded by DropOldest
	DroppedNewest uint64 // deliveries refused by DropNewest
	Disconnected  uint64 // subscribers closed by Disconnect
	Discarded     uint64 // queued deliveries discarded because their subscriber was disconnected or failed, or the hub stopped
	WriteErrors   uint64 // deliveries whose write failed
}

// ErrClosed is returned by the methods of a stopped Hub. It matches
// net.ErrClosed.
var ErrClosed error = &closedError{}

type closedError struct{}

func (*closedError) Error() string { return "hub: hub stopped" }
func (*closedError) Unwrap() error { return net.ErrClosed }

// Hub delivers messages published on topics to the WebSocket connections
// subscribed to them, on this node and, through its Broker, on the others.
// Its methods are safe for concurrent use.
type Hub struct {
	broker       Broker
	queueSize    int
	policy       Policy
	policyFor    func(string) Policy
	closeCode    int
	closeReason  string
	closeTimeout time.Duration
	log          *slog.Logger
	obs          *obs.Hub // nil: metrics off

	mu      sync.RWMutex
	closed  bool
	entries map[string]*entry // every pattern
	exact   map[string]*entry // patterns without wildcards
	wild    []*entry          // patterns with wildcards
	subs    map[*websocket.Conn]*subscriber
	wg      sync.WaitGroup // writers and disconnects

	published, received, queued, sent          atomic.Uint64
	droppedOldest, droppedNewest, disconnected atomic.Uint64
	discarded, writeErrors                     atomic.Uint64
}

// New returns a running Hub.
func New(cfg *Config) *Hub {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	h := &Hub{broker: c.Broker, queueSize: c.QueueSize, policy: c.Policy, policyFor: c.PolicyFor,
		closeCode: c.CloseCode, closeReason: c.CloseReason, closeTimeout: c.CloseTimeout, log: c.Logger,
		entries: make(map[string]*entry), exact: make(map[string]*entry),
		subs: make(map[*websocket.Conn]*subscriber)}
	if h.broker == nil {
		h.broker = NewMemoryBus().Node()
	}
	if h.queueSize <= 0 {
		h.queueSize = DefaultQueueSize
	}
	if h.closeCode == 0 {
		h.closeCode = DefaultCloseCode
	}
	if h.closeReason == "" {
		h.closeReason = DefaultCloseReason
	}
	if h.closeTimeout == 0 {
		h.closeTimeout = DefaultCloseTimeout
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	h.obs = obs.NewHub(c.MeterProvider, h.obsCounts)
	return h
}

// obsCounts is Stats for the hub's instruments.
func (h *Hub) obsCounts() obs.HubCounts {
	st := h.Stats()
	return obs.HubCounts{Subscribers: int64(st.Subscribers), Patterns: int64(st.Patterns),
		Published: st.Published, Received: st.Received, Queued: st.Queued, Sent: st.Sent,
		DroppedOldest: st.DroppedOldest, DroppedNewest: st.DroppedNewest,
		Disconnected: st.Disconnected, Discarded: st.Discarded, WriteErrors: st.WriteErrors}
}

// Prepared is a message encoded once for publishing: its WebSocket frame
// (and its compressed frame, made on first need) serves every subscriber
// on this node, and every publish of it.
type Prepared struct {
	typ  websocket.MessageType
	data []byte
	pm   *websocket.PreparedMessage
}

// Prepare encodes a message of type typ with payload data (copied). Text
// must be valid UTF-8.
func Prepare(typ websocket.MessageType, data []byte) (*Prepared, error) {
	pm, err := websocket.NewPreparedMessage(typ, data)
	if err != nil {
		return nil, err
	}
	return &Prepared{typ: typ, data: append([]byte(nil), data...), pm: pm}, nil
}

// Publish sends a message of type typ (text must be valid UTF-8) with
// payload data to every subscriber of a pattern that matches topic, on
// every node. It never waits for a subscriber: each delivery is queued
// (subject to the slow-consumer policy) and written by the subscriber's
// own writer. It returns once the message is queued for this node's
// subscribers and handed to the broker; an error from the broker (for
// NATS: the reconnect buffer is full) means the other nodes may not get
// it, this node's subscribers still do. data is not retained.
func (h *Hub) Publish(ctx context.Context, topic string, typ websocket.MessageType, data []byte) error {
	if err := ValidTopic(topic); err != nil {
		return err
	}
	pm, err := websocket.NewPreparedMessage(typ, data)
	if err != nil {
		return err
	}
	return h.publish(ctx, topic, typ, data, pm)
}

// PublishPrepared is Publish for a message encoded once with Prepare.
func (h *Hub) PublishPrepared(ctx context.Context, topic string, p *Prepared) error {
	if err := ValidTopic(topic); err != nil {
		return err
	}
	return h.publish(ctx, topic, p.typ, p.data, p.pm)
}

func (h *Hub) publish(ctx context.Context, topic string, typ websocket.MessageType, data []byte, pm *websocket.PreparedMessage) error {
	h.mu.RLock()
	closed := h.closed
	h.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	// The other nodes first: their subscribers wait on the network, ours
	// only on the fan-out below. Outside the lock: a broker may block
	// (NATS, on a full socket), and Subscribe must not wait for it.
	berr := h.broker.Publish(ctx, topic, typ, data)
	h.mu.RLock()
	if h.closed {
		h.mu.RUnlock()
		return ErrClosed
	}
	h.published.Add(1)
	if e := h.exact[topic]; e != nil {
		e.fanout(pm)
	}
	for _, e := range h.wild {
		if Match(e.pattern, topic) {
			e.fanout(pm)
		}
	}
	h.mu.RUnlock()
	if berr != nil {
		return fmt.Errorf("hub: publish %q to the other nodes: %w", topic, berr)
	}
	return nil
}

// Subscribe subscribes the connection c to pattern: a topic, or a NATS
// subject pattern with '*' (one token) and a last '>' (one or more). It
// returns once the subscription is active on this node and in the broker
// (for NATS: the server has it), bounded by ctx. Subscribing again to the
// same pattern does nothing. A connection subscribed to two patterns that
// both match a topic gets each message on it twice, as with NATS. The
// subscriptions end when c ends (its Context is done), on Unsubscribe, and
// when the hub stops.
func (h *Hub) Subscribe(ctx context.Context, c *websocket.Conn, pattern string) error {
	if err := ValidPattern(pattern); err != nil {
		return err
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return ErrClosed
	}
	if c.Context().Err() != nil {
		h.mu.Unlock()
		return fmt.Errorf("hub: subscribe: connection ended: %w", net.ErrClosed)
	}
	s := h.subs[c]
	if s == nil {
		s = h.newSubscriber(c)
	}
	e := s.entries[pattern]
	creator := false
	if e == nil {
		e = h.entries[pattern]
		if e == nil {
			e = h.newEntry(pattern)
			creator = true
		}
		e.add(s)
	}
	h.mu.Unlock()
	if creator {
		cancel, err := h.broker.Subscribe(ctx, pattern, e.deliver)
		h.brokerSubscribed(e, cancel, err)
	}
	select {
	case <-e.ready:
	case <-ctx.Done():
		h.Unsubscribe(c, pattern)
		return ctx.Err()
	}
	if e.err != nil {
		return fmt.Errorf("hub: subscribe %q: %w", pattern, e.err)
	}
	return nil
}

// brokerSubscribed records the outcome of e's broker subscription.
func (h *Hub) brokerSubscribed(e *entry, cancel func() error, err error) {
	h.mu.Lock()
	e.cancel, e.err = cancel, err
	dead := e.dead
	if err != nil && !dead {
		// Nobody gets the pattern: its members leave it.
		e.mu.Lock()
		members := e.members
		e.members = nil
		e.mu.Unlock()
		for _, s := range members {
			delete(s.entries, e.pattern)
			delete(s.pos, e)
		}
		h.dropEntryLocked(e)
	}
	close(e.ready)
	h.mu.Unlock()
	if err == nil && dead {
		h.cancelBroker(e)
	}
}

// Unsubscribe ends c's subscription to pattern. It reports whether there
// was one.
func (h *Hub) Unsubscribe(c *websocket.Conn, pattern string) bool {
	h.mu.Lock()
	s := h.subs[c]
	var e *entry
	if s != nil {
		e = s.entries[pattern]
	}
	if e == nil {
		h.mu.Unlock()
		return false
	}
	drop := h.leaveLocked(s, e)
	h.mu.Unlock()
	if drop {
		h.cancelBroker(e)
	}
	return true
}

// Topics returns the patterns c is subscribed to.
func (h *Hub) Topics(c *websocket.Conn) []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	s := h.subs[c]
	if s == nil {
		return nil
	}
	out := make([]string, 0, len(s.entries))
	for p := range s.entries {
		out = append(out, p)
	}
	return out
}

// Stats returns the hub's counters.
func (h *Hub) Stats() Stats {
	h.mu.RLock()
	st := Stats{Subscribers: len(h.subs), Patterns: len(h.entries), Sent: h.sent.Load()}
	h.mu.RUnlock()
	st.Published, st.Received, st.Queued = h.published.Load(), h.received.Load(), h.queued.Load()
	st.DroppedOldest, st.DroppedNewest = h.droppedOldest.Load(), h.droppedNewest.Load()
	st.Disconnected, st.Discarded, st.WriteErrors = h.disconnected.Load(), h.discarded.Load(), h.writeErrors.Load()
	return st
}

// GracefulStop stops the hub and drains it: it refuses new publishes and
// subscriptions (ErrClosed), ends the broker subscriptions, waits until
// every subscriber's queue is written (bounded by ctx), then closes the
// broker. When ctx ends first, what is still queued is discarded, the
// writes in progress finish (each bounded by its connection's
// WriteTimeout), and GracefulStop returns ctx.Err(). The connections stay
// open: they belong to their listener. A second stop returns nil.
func (h *Hub) GracefulStop(ctx context.Context) error {
	subs, ok := h.stop()
	if !ok {
		return nil
	}
	for _, s := range subs {
		s.finish()
	}
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		for _, s := range subs {
			s.abort()
		}
		<-done
	}
	if berr := h.broker.Close(); berr != nil && err == nil {
		err = berr
	}
	h.obs.Close() // after the last count: the writers and the broker are done
	return err
}

// ImmediateStop stops the hub without draining: what is queued is
// discarded. It waits for the writes in progress (each bounded by its
// connection's WriteTimeout) and closes the broker.
func (h *Hub) ImmediateStop() error {
	subs, ok := h.stop()
	if !ok {
		return nil
	}
	for _, s := range subs {
		s.abort()
	}
	h.wg.Wait()
	err := h.broker.Close()
	h.obs.Close()
	return err
}

// stop marks the hub closed and detaches everything; ok is false if it
// was already stopped.
func (h *Hub) stop() (subs []*subscriber, ok bool) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, false
	}
	h.closed = true
	var cancels []*entry
	for _, e := range h.entries {
		e.dead = true
		if isClosed(e.ready) {
			cancels = append(cancels, e)
		}
	}
	for _, s := range h.subs {
		s.stopWatch()
		subs = append(subs, s)
	}
	h.entries, h.exact, h.wild, h.subs = map[string]*entry{}, map[string]*entry{}, nil, map[*websocket.Conn]*subscriber{}
	h.mu.Unlock()
	for _, e := range cancels {
		h.cancelBroker(e)
	}
	return subs, true
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// cancelBroker ends e's broker subscription (e is dead and ready).
func (h *Hub) cancelBroker(e *entry) {
	if e.cancel == nil {
		return
	}
	if err := e.cancel(); err != nil {
		h.log.Warn("hub: ending a broker subscription", "pattern", e.pattern, "err", err)
	}
}

// entry is one subscription pattern on this node: its members and its
// broker subscription.
type entry struct {
	h       *Hub
	pattern string
	policy  Policy

	// Set under h.mu.
	ready  chan struct{} // closed when the broker subscription is settled
	cancel func() error  // ends it
	err    error         // why it failed
	dead   bool          // removed from the hub

	mu      sync.Mutex // fan-out order and members
	members []*subscriber
}

func (h *Hub) newEntry(pattern string) *entry {
	p := h.policy
	if h.policyFor != nil {
		p = h.policyFor(pattern)
	}
	e := &entry{h: h, pattern: pattern, policy: p, ready: make(chan struct{})}
	h.entries[pattern] = e
	if isWild(pattern) {
		h.wild = append(h.wild, e)
	} else {
		h.exact[pattern] = e
	}
	return e
}

// dropEntryLocked removes e from the hub (h.mu held).
func (h *Hub) dropEntryLocked(e *entry) {
	e.dead = true
	if h.entries[e.pattern] == e {
		delete(h.entries, e.pattern)
		delete(h.exact, e.pattern)
	}
	for i, w := range h.wild {
		if w == e {
			h.wild = append(h.wild[:i], h.wild[i+1:]...)
			break
		}
	}
}

// add makes s a member (h.mu held).
func (e *entry) add(s *subscriber) {
	e.mu.Lock()
	s.pos[e] = len(e.members)
	e.members = append(e.members, s)
	e.mu.Unlock()
	s.entries[e.pattern] = e
}

// leaveLocked removes s from e (h.mu held). It reports whether e is now
// dead with a broker subscription to cancel.
func (h *Hub) leaveLocked(s *subscriber, e *entry) (cancel bool) {
	i, ok := s.pos[e]
	if !ok {
		return false
	}
	delete(s.pos, e)
	delete(s.entries, e.pattern)
	e.mu.Lock()
	last := len(e.members) - 1
	if i != last {
		moved := e.members[last]
		e.members[i] = moved
		moved.pos[e] = i
	}
	e.members[last] = nil
	e.members = e.members[:last]
	empty := last == 0
	e.mu.Unlock()
	if !empty {
		return false
	}
	h.dropEntryLocked(e)
	return isClosed(e.ready)
}

// fanout queues pm for every member. Holding e.mu makes every member see
// the messages of e in the same order.
func (e *entry) fanout(pm *websocket.PreparedMessage) {
	var n uint64
	e.mu.Lock()
	for _, s := range e.members {
		if s.push(pm, e.policy) {
			n++
		}
	}
	e.mu.Unlock()
	if n > 0 {
		e.h.queued.Add(n)
	}
}

// deliver is e's broker callback: a message from another node.
func (e *entry) deliver(topic string, typ websocket.MessageType, data []byte) {
	e.h.received.Add(1)
	e.mu.Lock()
	none := len(e.members) == 0
	e.mu.Unlock()
	if none {
		return
	}
	pm, err := websocket.NewPreparedMessage(typ, data)
	if err != nil {
		// Text that is not UTF-8, from a foreign publisher: as binary.
		if pm, err = websocket.NewPreparedMessage(websocket.BinaryMessage, data); err != nil {
			return
		}
	}
	e.fanout(pm)
}
