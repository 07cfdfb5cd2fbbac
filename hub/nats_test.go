package hub_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/netkit-go/netkit/hub"
	"github.com/netkit-go/netkit/hub/natsbroker"
	"github.com/netkit-go/netkit/internal/natstest"
	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/websocket"
)

// natsNode starts a hub node attached to the NATS server at url.
func natsNode(t *testing.T, url string, cfg *hub.Config) *node {
	t.Helper()
	b, err := natsbroker.Connect(netkittest.Context(t), &natsbroker.Config{URL: url, Logger: netkittest.DiscardLogger})
	if err != nil {
		t.Fatal(err)
	}
	var c hub.Config
	if cfg != nil {
		c = *cfg
	}
	c.Broker = b
	return startNode(t, &c)
}

// probe publishes on topic from n until sub receives a probe (interest
// travels between servers, and comes back after a reconnect,
// asynchronously), then skips the probes still in flight by publishing and
// awaiting a marker. It is bounded by the test context.
func probe(t *testing.T, n *node, topic string, sub *websocket.Client) {
	t.Helper()
	ctx := netkittest.Context(t)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			n.h.Publish(ctx, topic, websocket.TextMessage, []byte("probe"))
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	for {
		m, err := sub.ReadTextMessage(ctx)
		if err != nil {
			close(stop)
			<-done
			t.Fatalf("waiting for a probe: %v", err)
		}
		if string(m) == "probe" {
			break
		}
	}
	close(stop)
	<-done
	publish(t, n.h, topic, "marker")
	for {
		if m := read(t, sub); m == "marker" {
			return
		} else if m != "probe" {
			t.Fatalf("got %q among the probes", m)
		}
	}
}

func TestNATSCrossNode(t *testing.T) {
	srv := natstest.Start(t, natstest.Options{})
	n1 := natsNode(t, srv.URL(), big)
	n2 := natsNode(t, srv.URL(), big)
	s1, s2 := n1.dial(t, "room.*"), n2.dial(t, "room.*")
	const count = 300
	for i := range count {
		publish(t, n1.h, "room.a", seq(i))
	}
	for i := range count {
		if got := read(t, s1); got != seq(i) {
			t.Fatalf("node 1 message %d: %q", i, got)
		}
		if got := read(t, s2); got != seq(i) {
			t.Fatalf("node 2 message %d: %q", i, got)
		}
	}
	// Node-local dedup: n1's own messages came to s1 once. The next
	// messages on s1 are the ones published next, not echoes.
	for _, m := range []struct {
		n    *node
		data string
	}{{n1, "next"}, {n2, "from 2"}} {
		publish(t, m.n.h, "room.b", m.data)
		if got := read(t, s1); got != m.data {
			t.Fatalf("node 1: %q, want %q", got, m.data)
		}
		if got := read(t, s2); got != m.data {
			t.Fatalf("node 2: %q, want %q", got, m.data)
		}
	}
	if st := n1.h.Stats(); st.Received != 1 {
		t.Fatalf("node 1 received %d messages through NATS, want 1 (no echo)", st.Received)
	}
	// Binary messages keep their type across NATS.
	if err := n1.h.Publish(context.Background(), "room.bin", websocket.BinaryMessage, []byte{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	typ, p, err := s2.Read(netkittest.Context(t), nil)
	if err != nil || typ != websocket.BinaryMessage || string(p) != "\x00\x01\x02" {
		t.Fatalf("binary: %v %q %v", typ, p, err)
	}
}

// A NATS server restart: the brokers reconnect and subscribe again by
// themselves, the WebSocket subscribers stay connected, and delivery
// resumes in order.
func TestNATSServerRestart(t *testing.T) {
	srv := natstest.Start(t, natstest.Options{})
	n1 := natsNode(t, srv.URL(), big)
	n2 := natsNode(t, srv.URL(), big)
	s1, s2 := n1.dial(t, "t"), n2.dial(t, "t")
	publish(t, n1.h, "t", "before")
	if read(t, s1) != "before" || read(t, s2) != "before" {
		t.Fatal("before the restart")
	}
	srv = srv.Restart(t)
	// While NATS is away or back, local delivery goes on.
	publish(t, n1.h, "t", "local")
	if got := read(t, s1); got != "local" {
		t.Fatalf("node 1 during the restart: %q", got)
	}
	probe(t, n1, "t", s2)
	for i := range 100 {
		publish(t, n1.h, "t", seq(i))
	}
	for i := range 100 {
		if got := read(t, s2); got != seq(i) {
			t.Fatalf("after the restart, message %d: %q", i, got)
		}
	}
	_ = srv
}

// Two NATS servers joined by a route, a hub node on each.
func TestNATSCluster(t *testing.T) {
	a := natstest.Start(t, natstest.Options{Name: "a", Cluster: "c"})
	b := natstest.Start(t, natstest.Options{Name: "b", Cluster: "c", Routes: []string{a.RouteURL()}})
	n1 := natsNode(t, a.URL(), big)
	n2 := natsNode(t, b.URL(), big)
	s1, s2 := n1.dial(t, "feed.>"), n2.dial(t, "feed.>")
	// n2's subscription reaches server a over the route shortly after
	// Subscribe returned.
	probe(t, n1, "feed.x", s2)
	for i := range 200 {
		publish(t, n1.h, "feed.x", seq(i))
		publish(t, n2.h, "feed.y", "y"+seq(i))
	}
	// Each publisher's order holds at both nodes; the interleaving of the
	// two may differ between them.
	for _, cl := range []*websocket.Client{s1, s2} {
		next := map[bool]int{}
		for next[false] < 200 || next[true] < 200 {
			m := read(t, cl)
			if m == "probe" || m == "marker" {
				continue
			}
			y := strings.HasPrefix(m, "y")
			want := seq(next[y])
			if y {
				want = "y" + want
			}
			if m != want {
				t.Fatalf("got %q, want %q", m, want)
			}
			next[y]++
		}
	}
}
