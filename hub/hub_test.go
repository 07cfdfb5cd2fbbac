package hub_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/netkit-go/netkit/hub"
	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/websocket"
)

// big holds every message of a test: no slow-consumer policy applies.
var big = &hub.Config{QueueSize: 4096}

func TestPublishOrder(t *testing.T) {
	n := startNode(t, big)
	subs := []*websocket.Client{n.dial(t, "t"), n.dial(t, "t"), n.dial(t, "t")}
	other := n.dial(t, "u")
	const count = 500
	// Two publishers on two topics, concurrently: each subscriber sees
	// its topic's messages in publish order.
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range count {
			publish(t, n.h, "t", seq(i))
		}
	}()
	go func() {
		defer wg.Done()
		for i := range count {
			publish(t, n.h, "u", "u"+seq(i))
		}
	}()
	wg.Wait()
	for _, cl := range subs {
		for i := range count {
			if got := read(t, cl); got != seq(i) {
				t.Fatalf("message %d: got %q", i, got)
			}
		}
	}
	for i := range count {
		if got := read(t, other); got != "u"+seq(i) {
			t.Fatalf("topic u message %d: got %q", i, got)
		}
	}
	st := n.h.Stats()
	if st.Published != 2*count || st.Queued != 4*count || st.Patterns != 2 || st.Subscribers != 4 {
		t.Fatalf("stats %+v", st)
	}
}

// Subscribers of one topic on one node see the same interleaving of two
// concurrent publishers.
func TestSameInterleavingOnANode(t *testing.T) {
	n := startNode(t, big)
	a, b := n.dial(t, "t"), n.dial(t, "t")
	const count = 300
	var wg sync.WaitGroup
	for p := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range count {
				publish(t, n.h, "t", fmt.Sprintf("%d-%d", p, i))
			}
		}()
	}
	wg.Wait()
	for i := range 2 * count {
		if ma, mb := read(t, a), read(t, b); ma != mb {
			t.Fatalf("message %d: %q and %q", i, ma, mb)
		}
	}
}

func TestWildcards(t *testing.T) {
	n := startNode(t, nil)
	star := n.dial(t, "a.*", "end")
	tail := n.dial(t, "a.>", "end")
	exact := n.dial(t, "a.b", "end")
	all := n.dial(t, ">")
	both := n.dial(t, "a.b", "a.*", "end")
	for _, topic := range []string{"a.b", "a.b.c", "a", "x.y"} {
		publish(t, n.h, topic, topic)
	}
	expect(t, star, n.h, "end", "a.b")
	expect(t, tail, n.h, "end", "a.b", "a.b.c")
	expect(t, exact, n.h, "end", "a.b")
	// ">" matched the sentinels published above too.
	for _, w := range []string{"a.b", "a.b.c", "a", "x.y", "sentinel", "sentinel", "sentinel"} {
		if got := read(t, all); got != w {
			t.Fatalf("'>' got %q, want %q", got, w)
		}
	}
	// Two matching subscriptions: two deliveries, as NATS does.
	expect(t, both, n.h, "end", "a.b", "a.b")
}

func TestUnsubscribe(t *testing.T) {
	n := startNode(t, nil)
	cl := n.dial(t, "a", "b")
	publish(t, n.h, "a", "1")
	expect(t, cl, n.h, "b", "1")
	conn := serverConn(t, n)
	if !n.h.Unsubscribe(conn, "a") {
		t.Fatal("Unsubscribe a: false")
	}
	if n.h.Unsubscribe(conn, "a") {
		t.Fatal("second Unsubscribe a: true")
	}
	publish(t, n.h, "a", "2")
	expect(t, cl, n.h, "b")
	if got := n.h.Topics(conn); len(got) != 1 || got[0] != "b" {
		t.Fatalf("Topics: %q", got)
	}
	if st := n.h.Stats(); st.Patterns != 1 {
		t.Fatalf("patterns %d after unsubscribe", st.Patterns)
	}
}

// serverConn returns the server side of the node's next connection.
func serverConn(t *testing.T, n *node) *websocket.Conn {
	t.Helper()
	select {
	case c := <-n.opened:
		return c
	default:
		t.Fatal("no connection opened")
		return nil
	}
}

func TestUnsubscribeOnClose(t *testing.T) {
	n := startNode(t, nil)
	keep := n.dial(t, "t")
	gone := n.dial(t, "t", "u")
	if err := gone.Close(netkittest.Context(t), 1000, "bye"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the closed subscriber to leave", func() bool { return n.h.Stats().Subscribers == 1 })
	if st := n.h.Stats(); st.Patterns != 1 {
		t.Fatalf("patterns %d, want 1 (u had only the closed subscriber)", st.Patterns)
	}
	publish(t, n.h, "t", "x")
	expect(t, keep, n.h, "t", "x")
	if st := n.h.Stats(); st.WriteErrors != 0 || st.Queued != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// The listener's graceful and immediate stops close the connections;
// their subscriptions go with them.
func TestListenerStopRemovesSubscribers(t *testing.T) {
	for _, graceful := range []bool{true, false} {
		n := startNode(t, nil)
		for range 3 {
			cl := n.dial(t, "t")
			go func() {
				for {
					if _, err := cl.ReadTextMessage(context.Background()); err != nil {
						return
					}
				}
			}()
		}
		var err error
		if graceful {
			err = n.l.GracefulStop(netkittest.Context(t))
		} else {
			err = n.l.ImmediateStop()
		}
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "the subscribers to leave", func() bool { return n.h.Stats().Subscribers == 0 })
		if st := n.h.Stats(); st.Patterns != 0 {
			t.Fatalf("graceful %v: stats %+v", graceful, st)
		}
	}
}

func TestBadInput(t *testing.T) {
	n := startNode(t, nil)
	ctx := netkittest.Context(t)
	for _, topic := range []string{"", "a..b", ".a", "a.", "a b", "a.*", "a.>", "a*", "x\n", strings.Repeat("a", hub.MaxTopicLength+1)} {
		if err := n.h.Publish(ctx, topic, websocket.TextMessage, nil); !errors.Is(err, hub.ErrBadTopic) {
			t.Errorf("Publish(%q): %v", topic, err)
		}
	}
	if err := n.h.Publish(ctx, "t", websocket.TextMessage, []byte{0xff}); err == nil {
		t.Error("Publish of invalid UTF-8 text: no error")
	}
	if err := n.h.Publish(ctx, "t", websocket.MessageType(9), nil); err == nil {
		t.Error("Publish of an invalid message type: no error")
	}
	cl := n.dial(t)
	_ = cl
	c := serverConn(t, n)
	for _, p := range []string{"", "a.>.b", "a>", ">.a", "a.**", "a. b"} {
		if err := n.h.Subscribe(ctx, c, p); !errors.Is(err, hub.ErrBadTopic) {
			t.Errorf("Subscribe(%q): %v", p, err)
		}
	}
	for _, p := range []string{"a", "a.*", "*", ">", "a.>", "*.b.>", "a-b_c.D9"} {
		if err := hub.ValidPattern(p); err != nil {
			t.Errorf("ValidPattern(%q): %v", p, err)
		}
	}
}

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, topic string
		want           bool
	}{
		{"a", "a", true}, {"a", "b", false}, {"a", "a.b", false}, {"a.b", "a", false},
		{"*", "a", true}, {"*", "a.b", false}, {"a.*", "a.b", true}, {"a.*", "a", false},
		{"a.*", "a.b.c", false}, {"*.b", "a.b", true}, {"*.b", "a.c", false},
		{">", "a", true}, {">", "a.b.c", true}, {"a.>", "a", false}, {"a.>", "a.b", true},
		{"a.>", "a.b.c", true}, {"a.*.c", "a.b.c", true}, {"a.*.c", "a.b.d", false},
		{"*.>", "a.b", true}, {"*.>", "a", false}, {"ab", "a", false}, {"a", "ab", false},
	} {
		if got := hub.Match(c.pattern, c.topic); got != c.want {
			t.Errorf("Match(%q, %q) = %v", c.pattern, c.topic, got)
		}
	}
}

// FuzzMatch checks Match against a token-slice reference on valid input.
func FuzzMatch(f *testing.F) {
	f.Add("a.*.>", "a.b.c")
	f.Add("*", "x")
	f.Add(">", "a.b")
	f.Add("a.b", "a.b")
	f.Fuzz(func(t *testing.T, pattern, topic string) {
		perr, terr := hub.ValidPattern(pattern), hub.ValidTopic(topic)
		if terr == nil && hub.ValidPattern(topic) != nil {
			t.Fatalf("topic %q valid but not as a pattern", topic)
		}
		if perr != nil || terr != nil {
			return
		}
		if got, want := hub.Match(pattern, topic), refMatch(pattern, topic); got != want {
			t.Fatalf("Match(%q, %q) = %v, reference %v", pattern, topic, got, want)
		}
		if !hub.Match(topic, topic) {
			t.Fatalf("topic %q does not match itself", topic)
		}
	})
}

func refMatch(pattern, topic string) bool {
	p, s := strings.Split(pattern, "."), strings.Split(topic, ".")
	for i, tok := range p {
		if tok == ">" {
			return len(s) > i
		}
		if i >= len(s) || (tok != "*" && tok != s[i]) {
			return false
		}
	}
	return len(p) == len(s)
}

func TestStopRefuses(t *testing.T) {
	n := startNode(t, nil)
	cl := n.dial(t, "t")
	_ = cl
	c := serverConn(t, n)
	if err := n.h.GracefulStop(netkittest.Context(t)); err != nil {
		t.Fatal(err)
	}
	if err := n.h.Publish(context.Background(), "t", websocket.TextMessage, nil); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Publish after stop: %v", err)
	}
	if err := n.h.Subscribe(context.Background(), c, "t"); !errors.Is(err, hub.ErrClosed) {
		t.Fatalf("Subscribe after stop: %v", err)
	}
	if err := n.h.GracefulStop(context.Background()); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	// The connection stays open: it belongs to the listener.
	if !c.IsOpen() {
		t.Fatal("the hub's stop closed a connection")
	}
}

func TestPublishPrepared(t *testing.T) {
	n := startNode(t, nil)
	a, b := n.dial(t, "a"), n.dial(t, "b")
	p, err := hub.Prepare(websocket.TextMessage, []byte("once"))
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"a", "b"} {
		if err := n.h.PublishPrepared(context.Background(), topic, p); err != nil {
			t.Fatal(err)
		}
	}
	expect(t, a, n.h, "a", "once")
	expect(t, b, n.h, "b", "once")
	if _, err := hub.Prepare(websocket.TextMessage, []byte{0xc3}); err == nil {
		t.Fatal("Prepare of invalid UTF-8 text: no error")
	}
}

func TestParsePolicy(t *testing.T) {
	for _, p := range []hub.Policy{hub.DropOldest, hub.DropNewest, hub.Disconnect} {
		if q, err := hub.ParsePolicy(p.String()); err != nil || q != p {
			t.Errorf("ParsePolicy(%q) = %v, %v", p.String(), q, err)
		}
	}
	if _, err := hub.ParsePolicy("later"); err == nil {
		t.Error("ParsePolicy(later): no error")
	}
}

// Two hubs on one MemoryBus are two nodes: a message reaches both nodes'
// subscribers once, its own node's included.
func TestMemoryBusNodes(t *testing.T) {
	bus := hub.NewMemoryBus()
	n1 := startNode(t, &hub.Config{Broker: bus.Node(), QueueSize: 4096})
	n2 := startNode(t, &hub.Config{Broker: bus.Node(), QueueSize: 4096})
	s1, s2 := n1.dial(t, "t", "end"), n2.dial(t, "t.>", "t", "end")
	const count = 200
	for i := range count {
		publish(t, n1.h, "t", seq(i))
	}
	publish(t, n2.h, "t.x", "x")
	for i := range count {
		if got := read(t, s1); got != seq(i) {
			t.Fatalf("node 1 message %d: %q", i, got)
		}
		if got := read(t, s2); got != seq(i) {
			t.Fatalf("node 2 message %d: %q", i, got)
		}
	}
	if got := read(t, s2); got != "x" {
		t.Fatalf("node 2: %q, want x", got)
	}
	// n1's own messages reach s1 once: no echo through the bus.
	publish(t, n1.h, "end", "a")
	publish(t, n1.h, "end", "b")
	for _, cl := range []*websocket.Client{s1, s2} {
		if a, b := read(t, cl), read(t, cl); a != "a" || b != "b" {
			t.Fatalf("got %q, %q; want a, b", a, b)
		}
	}
	if st := n2.h.Stats(); st.Received != count+2 {
		t.Fatalf("node 2 received %d from the bus, want %d", st.Received, count+2)
	}
}

// failBroker refuses subscriptions to "fail.*".
type failBroker struct{ hub.Broker }

func (b failBroker) Subscribe(ctx context.Context, pattern string, deliver hub.DeliverFunc) (func() error, error) {
	if strings.HasPrefix(pattern, "fail.") {
		return nil, errors.New("refused")
	}
	return b.Broker.Subscribe(ctx, pattern, deliver)
}

// A broker that refuses a subscription: Subscribe fails, the pattern is
// gone, the connection's other subscriptions work.
func TestBrokerSubscribeFails(t *testing.T) {
	n := startNode(t, &hub.Config{Broker: failBroker{hub.NewMemoryBus().Node()}})
	cl := n.dial(t, "ok")
	c := serverConn(t, n)
	if err := n.h.Subscribe(netkittest.Context(t), c, "fail.x"); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("Subscribe: %v", err)
	}
	if st := n.h.Stats(); st.Patterns != 1 {
		t.Fatalf("patterns %d, want 1", st.Patterns)
	}
	if got := n.h.Topics(c); len(got) != 1 || got[0] != "ok" {
		t.Fatalf("Topics %q", got)
	}
	publish(t, n.h, "fail.x", "lost")
	expect(t, cl, n.h, "ok")
}

// Many connections subscribe to one new pattern at once: one broker
// subscription, all of them active when Subscribe returns.
func TestConcurrentSubscribe(t *testing.T) {
	bus := hub.NewMemoryBus()
	n1 := startNode(t, &hub.Config{Broker: bus.Node()})
	n2 := startNode(t, &hub.Config{Broker: bus.Node()})
	const count = 20
	subs := make([]*websocket.Client, count)
	errs := make([]error, count)
	var wg sync.WaitGroup
	for i := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			subs[i], errs[i] = websocket.Dial(netkittest.Context(t), "ws://"+n1.l.Addr().String()+"/hub?sub=room.*", nil)
		}()
	}
	wg.Wait()
	for i, cl := range subs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		defer cl.Close(context.Background(), 1000, "")
		if got := read(t, cl); got != "ready" {
			t.Fatalf("got %q, want ready", got)
		}
	}
	if st := n1.h.Stats(); st.Patterns != 1 || st.Subscribers != count {
		t.Fatalf("stats %+v", st)
	}
	publish(t, n2.h, "room.1", "hello")
	for _, cl := range subs {
		if got := read(t, cl); got != "hello" {
			t.Fatalf("got %q", got)
		}
	}
}
