package hub_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/netkit-go/netkit/hub"
	"github.com/netkit-go/netkit/hub/natsbroker"
	"github.com/netkit-go/netkit/internal/natstest"
	"github.com/netkit-go/netkit/internal/obs"
	"github.com/netkit-go/netkit/internal/obs/obstest"
	"github.com/netkit-go/netkit/netkittest"
)

// The netkit.hub.policy values are the policies' names.
func TestMetricsPolicyNames(t *testing.T) {
	for _, p := range []hub.Policy{hub.DropOldest, hub.DropNewest, hub.Disconnect} {
		if obs.HubPolicies[p] != p.String() {
			t.Errorf("obs.HubPolicies[%d] = %q, want %q", p, obs.HubPolicies[p], p.String())
		}
	}
}

func policy(p hub.Policy) attribute.KeyValue { return obs.KeyHubPolicy.String(p.String()) }

// After a known exchange (3 subscribers of "t", one of "u" too, 4
// publishes on "t" and 1 on "u"), the hub's instruments have its counts;
// after the stop the counters keep them and the gauges are 0.
func TestMetricsExchange(t *testing.T) {
	mt := obstest.NewMetrics(t)
	n := startNode(t, &hub.Config{MeterProvider: mt.Provider})
	n.dial(t, "t")
	n.dial(t, "t")
	n.dial(t, "t", "u")
	snap := mt.Collect(t)
	if got := snap.Sum(obs.NameHubSubscribers); got != 3 {
		t.Errorf("subscribers %d, want 3", got)
	}
	if got := snap.Sum(obs.NameHubTopics); got != 2 {
		t.Errorf("topics %d, want 2 (t and u)", got)
	}
	for i := range 4 {
		publish(t, n.h, "t", seq(i))
	}
	publish(t, n.h, "u", "x")
	// The graceful stop returns once every queue is written: the counts
	// are final.
	if err := n.h.GracefulStop(netkittest.Context(t)); err != nil {
		t.Fatal(err)
	}
	snap = mt.Collect(t)
	for _, c := range []struct {
		name string
		want int64
	}{
		{obs.NameHubSubscribers, 0}, {obs.NameHubTopics, 0},
		{obs.NameHubPublished, 5}, {obs.NameHubReceived, 0},
		{obs.NameHubQueued, 13}, {obs.NameHubDeliveries, 13},
		{obs.NameHubDropped, 0}, {obs.NameHubDiscarded, 0}, {obs.NameHubDeliveryErrors, 0},
	} {
		if got := snap.Sum(c.name); got != c.want {
			t.Errorf("%s = %d, want %d", c.name, got, c.want)
		}
	}
	if got := len(snap.Attrs(obs.NameHubDropped)); got != 3 {
		t.Errorf("%s has %d series, want 3 (one per policy)", obs.NameHubDropped, got)
	}
}

// A stalled subscriber under each policy: the drops are counted by
// policy, as Stats counts them, and every queued delivery ends counted
// once (written, dropped as the oldest, discarded, or failed).
func TestMetricsSlowConsumerDrops(t *testing.T) {
	mt := obstest.NewMetrics(t)
	// One topic, a.x, matched by three patterns of three policies: each
	// publish reaches the three stalled subscribers.
	pol := map[string]hub.Policy{"*.x": hub.DropOldest, "a.*": hub.DropNewest, "a.>": hub.Disconnect}
	n := startNode(t, &hub.Config{QueueSize: slowQueue, MeterProvider: mt.Provider,
		PolicyFor: func(p string) hub.Policy { return pol[p] }})
	n.dial(t, "*.x")
	n.dial(t, "a.*")
	discon := n.dial(t, "a.>")
	for i := range pubs {
		if err := n.h.Publish(context.Background(), "a.x", 1, bigPayload(i)); err != nil {
			t.Fatal(err)
		}
	}
	st := n.h.Stats()
	snap := mt.Collect(t)
	if st.DroppedOldest == 0 || st.DroppedNewest == 0 || st.Disconnected != 1 {
		t.Fatalf("stats %+v: want drops by drop-oldest and drop-newest, one disconnect", st)
	}
	for _, c := range []struct {
		p    hub.Policy
		want uint64
	}{{hub.DropOldest, st.DroppedOldest}, {hub.DropNewest, st.DroppedNewest}, {hub.Disconnect, st.Disconnected}} {
		if got := snap.Sum(obs.NameHubDropped, policy(c.p)); uint64(got) != c.want {
			t.Errorf("dropped{%s} = %d, want %d", c.p, got, c.want)
		}
	}
	if got := snap.Sum(obs.NameHubPublished); got != pubs {
		t.Errorf("published %d, want %d", got, pubs)
	}
	// The disconnected subscriber gets its close.
	for {
		if _, _, err := discon.Read(netkittest.Context(t), nil); err != nil {
			if !isCloseCode(err, hub.DefaultCloseCode) {
				t.Fatalf("disconnected subscriber: %v, want close %d", err, hub.DefaultCloseCode)
			}
			break
		}
	}
	// The two other writers are stuck in a write to a full socket: the
	// listener's stop ends their connections, and the hub's stop then
	// waits for nothing.
	n.l.ImmediateStop()
	if err := n.h.ImmediateStop(); err != nil {
		t.Fatal(err)
	}
	snap = mt.Collect(t)
	queued := snap.Sum(obs.NameHubQueued)
	ended := snap.Sum(obs.NameHubDeliveries) + snap.Sum(obs.NameHubDropped, policy(hub.DropOldest)) +
		snap.Sum(obs.NameHubDiscarded) + snap.Sum(obs.NameHubDeliveryErrors)
	if queued == 0 || queued != ended {
		t.Errorf("queued %d, written + dropped as oldest + discarded + failed %d", queued, ended)
	}
	if st := n.h.Stats(); uint64(queued) != st.Queued || uint64(snap.Sum(obs.NameHubDiscarded)) != st.Discarded {
		t.Errorf("metrics queued %d discarded %d, stats %+v", queued, snap.Sum(obs.NameHubDiscarded), st)
	}
}

// natsMetricsNode is a hub node on NATS whose broker reports to mt.
func natsMetricsNode(t *testing.T, url string, mt *obstest.Metrics, interval time.Duration) *node {
	t.Helper()
	b, err := natsbroker.Connect(netkittest.Context(t), &natsbroker.Config{URL: url, Logger: netkittest.DiscardLogger,
		MeterProvider: mt.Provider, RoundTripInterval: interval})
	if err != nil {
		t.Fatal(err)
	}
	return startNode(t, &hub.Config{Broker: b, MeterProvider: mt.Provider, QueueSize: 4096})
}

// With the NATS broker, each subscription's flush is a measured round
// trip, and messages from the other node are counted as received.
func TestMetricsNATSRoundTrip(t *testing.T) {
	srv := natstest.Start(t, natstest.Options{})
	mt1, mt2 := obstest.NewMetrics(t), obstest.NewMetrics(t)
	n1 := natsMetricsNode(t, srv.URL(), mt1, -1)
	n2 := natsMetricsNode(t, srv.URL(), mt2, -1)
	n1.dial(t, "a")
	n1.dial(t, "a") // the pattern exists: no broker subscription
	n1.dial(t, "b")
	s2 := n2.dial(t, "a")
	nats := attribute.String("messaging.system", "nats")
	if got := mt1.Collect(t).Count(obs.NameHubBrokerRoundTrip, nats); got != 2 {
		t.Errorf("node 1: %d round trips, want 2 (its two broker subscriptions)", got)
	}
	publish(t, n1.h, "a", "one")
	if got := read(t, s2); got != "one" {
		t.Fatalf("node 2 got %q", got)
	}
	snap := mt2.Collect(t)
	if got := snap.Count(obs.NameHubBrokerRoundTrip, nats); got != 1 {
		t.Errorf("node 2: %d round trips, want 1", got)
	}
	if got := snap.Sum(obs.NameHubReceived); got != 1 {
		t.Errorf("node 2 received %d through NATS, want 1", got)
	}
}

// With a RoundTripInterval, the broker also measures its round trip
// periodically while connected.
func TestMetricsNATSRoundTripProbe(t *testing.T) {
	srv := natstest.Start(t, natstest.Options{})
	mt := obstest.NewMetrics(t)
	natsMetricsNode(t, srv.URL(), mt, time.Millisecond) // no subscription: only the probe measures
	eventually(t, "three probed round trips", func() bool {
		return mt.Collect(t).Count(obs.NameHubBrokerRoundTrip) >= 3
	})
}
