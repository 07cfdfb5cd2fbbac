package obs_test

import (
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/obs"
	"github.com/netkit-go/netkit/internal/obs/obstest"
)

// No provider: no registration, and every call is a no-op.
func TestHubNil(t *testing.T) {
	h := obs.NewHub(nil, func() obs.HubCounts { t.Fatal("counts read"); return obs.HubCounts{} })
	if h != nil {
		t.Fatal("NewHub without a provider returned a Hub")
	}
	h.Close()
	b := obs.NewHubBroker(nil, "nats")
	if b.Metrics() {
		t.Fatal("a nil HubBroker records")
	}
	b.RoundTrip(time.Second)
}

// The hubs of one provider report their sums; a closed hub's counters stay
// in the sums (they never go back), its gauges leave them.
func TestHubSumsAndClose(t *testing.T) {
	mt := obstest.NewMetrics(t)
	a := obs.HubCounts{Subscribers: 2, Patterns: 1, Published: 5, Sent: 10, DroppedNewest: 3}
	b := obs.HubCounts{Subscribers: 1, Patterns: 1, Published: 1, Sent: 1, Disconnected: 1}
	ha := obs.NewHub(mt.Provider, func() obs.HubCounts { return a })
	hb := obs.NewHub(mt.Provider, func() obs.HubCounts { return b })
	defer hb.Close()
	check := func(name string, want int64, policy ...string) {
		t.Helper()
		snap := mt.Collect(t)
		var got int64
		if len(policy) > 0 {
			got = snap.Sum(name, obs.KeyHubPolicy.String(policy[0]))
		} else {
			got = snap.Sum(name)
		}
		if got != want {
			t.Errorf("%s %v = %d, want %d", name, policy, got, want)
		}
	}
	check(obs.NameHubSubscribers, 3)
	check(obs.NameHubPublished, 6)
	check(obs.NameHubDeliveries, 11)
	check(obs.NameHubDropped, 3, "drop-newest")
	check(obs.NameHubDropped, 1, "disconnect")
	check(obs.NameHubDropped, 0, "drop-oldest")
	ha.Close()
	ha.Close()        // counts once
	a.Published = 100 // after its Close, a hub is not read
	check(obs.NameHubSubscribers, 1)
	check(obs.NameHubPublished, 6)
	check(obs.NameHubDropped, 3, "drop-newest")

	br := obs.NewHubBroker(mt.Provider, "nats")
	br.RoundTrip(time.Millisecond)
	br.RoundTrip(2 * time.Millisecond)
	if got := mt.Collect(t).Count(obs.NameHubBrokerRoundTrip); got != 2 {
		t.Errorf("round trips %d, want 2", got)
	}
}
