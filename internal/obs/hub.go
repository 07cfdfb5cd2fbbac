package obs

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// The hub's instruments (docs/metrics.md). A hub already counts everything
// in atomics (hub.Hub.Stats), so its instruments are observable: they read
// the counts when the provider collects, and the publish and delivery path
// costs nothing more with metrics on than off. The broker's round trip is
// the one synchronous instrument (HubBroker).

// Hub instrument names.
const (
	NameHubSubscribers     = "netkit.hub.subscribers"
	NameHubTopics          = "netkit.hub.topics"
	NameHubPublished       = "netkit.hub.published.messages"
	NameHubReceived        = "netkit.hub.received.messages"
	NameHubQueued          = "netkit.hub.queued.deliveries"
	NameHubDeliveries      = "netkit.hub.deliveries"
	NameHubDropped         = "netkit.hub.dropped.deliveries"
	NameHubDiscarded       = "netkit.hub.discarded.deliveries"
	NameHubDeliveryErrors  = "netkit.hub.delivery.errors"
	NameHubBrokerRoundTrip = "netkit.hub.broker.round_trip"
)

// KeyHubPolicy is the slow-consumer policy attribute of
// netkit.hub.dropped.deliveries (one of HubPolicies).
const KeyHubPolicy = attribute.Key("netkit.hub.policy")

// keyMessagingSystem is the broker's kind ("nats"), after the messaging
// conventions.
const keyMessagingSystem = attribute.Key("messaging.system")

// HubPolicies are the values of netkit.hub.policy: hub.Policy's names.
var HubPolicies = [...]string{"drop-oldest", "drop-newest", "disconnect"}

// roundTripBuckets are the broker round trip's boundaries, in seconds:
// 50 µs (loopback) to 5 s.
var roundTripBuckets = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// HubCounts are one hub's counts (hub.Stats), read at each collection.
type HubCounts struct {
	Subscribers, Patterns                int64
	Published, Received, Queued, Sent    uint64
	DroppedOldest, DroppedNewest         uint64
	Disconnected, Discarded, WriteErrors uint64
}

// add adds the cumulative counts of o (not its gauges) to c.
func (c *HubCounts) add(o HubCounts) {
	c.Published += o.Published
	c.Received += o.Received
	c.Queued += o.Queued
	c.Sent += o.Sent
	c.DroppedOldest += o.DroppedOldest
	c.DroppedNewest += o.DroppedNewest
	c.Disconnected += o.Disconnected
	c.Discarded += o.Discarded
	c.WriteErrors += o.WriteErrors
}

// Hub is one hub's registration with a provider's hub instruments. A nil
// *Hub (no provider) is valid and does nothing.
type Hub struct {
	st     *hubState
	counts func() HubCounts
}

// NewHub registers counts, the counts of one hub, with mp's hub
// instruments; nil when mp is nil. Every hub of one provider reports
// under the same series (the sum of the hubs): no attribute names a hub.
// Call Close when the hub has stopped.
func NewHub(mp metric.MeterProvider, counts func() HubCounts) *Hub {
	if mp == nil {
		return nil
	}
	st := hubStateFor(mp)
	h := &Hub{st: st, counts: counts}
	st.mu.Lock()
	st.hubs[h] = struct{}{}
	st.mu.Unlock()
	return h
}

// Close ends h's registration: its last cumulative counts stay in the
// provider's sums (the counters never go back), its gauges leave them.
// A second Close does nothing.
func (h *Hub) Close() {
	if h == nil {
		return
	}
	st := h.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.hubs[h]; !ok {
		return
	}
	delete(st.hubs, h)
	st.retired.add(h.counts())
}

// hubState is a provider's hub instruments and the hubs they observe.
type hubState struct {
	subscribers, topics               metric.Int64ObservableUpDownCounter
	published, received, queued, sent metric.Int64ObservableCounter
	dropped, discarded, writeErrors   metric.Int64ObservableCounter
	policyOpt                         [len(HubPolicies)][]metric.ObserveOption
	mu                                sync.Mutex
	hubs                              map[*Hub]struct{}
	retired                           HubCounts // of the hubs closed
}

// hubStates holds the hubState of each (comparable) provider seen, as
// meters does for the message counters.
var hubStates sync.Map // metric.MeterProvider -> *hubState

func hubStateFor(mp metric.MeterProvider) *hubState {
	return perProvider(&hubStates, mp, func() *hubState { return newHubState(mp.Meter(ScopeName)) })
}

func newHubState(m metric.Meter) *hubState {
	st := &hubState{hubs: map[*Hub]struct{}{}}
	st.subscribers = observableUpDown(m, NameHubSubscribers, "{subscriber}", "Connections subscribed to a hub now.")
	st.topics = observableUpDown(m, NameHubTopics, "{pattern}", "Distinct subscription patterns on a hub now.")
	st.published = observableCounter(m, NameHubPublished, "{message}", "Messages published on a hub (Publish and PublishPrepared).")
	st.received = observableCounter(m, NameHubReceived, "{message}", "Messages a hub received from the other nodes through its broker.")
	st.queued = observableCounter(m, NameHubQueued, "{delivery}", "Deliveries queued for a subscriber.")
	st.sent = observableCounter(m, NameHubDeliveries, "{delivery}", "Deliveries written to a subscriber's connection.")
	st.dropped = observableCounter(m, NameHubDropped, "{delivery}", "Deliveries dropped by the slow-consumer policy, by netkit.hub.policy.")
	st.discarded = observableCounter(m, NameHubDiscarded, "{delivery}", "Queued deliveries discarded: their subscriber was disconnected or failed, or the hub stopped.")
	st.writeErrors = observableCounter(m, NameHubDeliveryErrors, "{error}", "Deliveries whose write to the subscriber failed.")
	for i, p := range HubPolicies {
		st.policyOpt[i] = []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(KeyHubPolicy.String(p)))}
	}
	m.RegisterCallback(st.observe, st.subscribers, st.topics, st.published, st.received, st.queued, st.sent,
		st.dropped, st.discarded, st.writeErrors)
	return st
}

func (st *hubState) observe(_ context.Context, o metric.Observer) error {
	st.mu.Lock()
	sum := st.retired
	for h := range st.hubs {
		c := h.counts()
		sum.add(c)
		sum.Subscribers += c.Subscribers
		sum.Patterns += c.Patterns
	}
	st.mu.Unlock()
	o.ObserveInt64(st.subscribers, sum.Subscribers)
	o.ObserveInt64(st.topics, sum.Patterns)
	o.ObserveInt64(st.published, int64(sum.Published))
	o.ObserveInt64(st.received, int64(sum.Received))
	o.ObserveInt64(st.queued, int64(sum.Queued))
	o.ObserveInt64(st.sent, int64(sum.Sent))
	o.ObserveInt64(st.dropped, int64(sum.DroppedOldest), st.policyOpt[0]...)
	o.ObserveInt64(st.dropped, int64(sum.DroppedNewest), st.policyOpt[1]...)
	o.ObserveInt64(st.dropped, int64(sum.Disconnected), st.policyOpt[2]...)
	o.ObserveInt64(st.discarded, int64(sum.Discarded))
	o.ObserveInt64(st.writeErrors, int64(sum.WriteErrors))
	return nil
}

// HubBroker is the round-trip histogram of one hub broker. A nil
// *HubBroker (no provider) is valid and records nothing.
type HubBroker struct {
	rtt metric.Float64Histogram
	opt []metric.RecordOption
}

// NewHubBroker returns the instruments of a broker of system (the
// messaging.system attribute: "nats"), or nil when mp is nil.
func NewHubBroker(mp metric.MeterProvider, system string) *HubBroker {
	if mp == nil {
		return nil
	}
	rtt, _ := mp.Meter(ScopeName).Float64Histogram(NameHubBrokerRoundTrip, metric.WithUnit("s"),
		metric.WithDescription("Round trips of a hub's broker to its server (NATS: a PING and its PONG, behind what the connection had buffered)."), metric.WithExplicitBucketBoundaries(roundTripBuckets...))
	return &HubBroker{rtt: rtt, opt: []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(keyMessagingSystem.String(system)))}}
}

// Metrics reports whether b records.
func (b *HubBroker) Metrics() bool { return b != nil }

// RoundTrip records one measured round trip.
func (b *HubBroker) RoundTrip(d time.Duration) {
	if b == nil {
		return
	}
	b.rtt.Record(context.Background(), d.Seconds(), b.opt...)
}
