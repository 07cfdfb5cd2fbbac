package hub_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/netkit-go/netkit/hub"
	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/websocket"
)

// A stalled subscriber: it does not read, so once the socket buffers are
// full its writer blocks and its queue fills. Messages are large so that
// this happens after a few megabytes.
const (
	slowQueue = 4
	bigMsg    = 64 << 10
	pubs      = 200 // 12.5 MiB: far more than the small socket buffers hold
	// drainPubs is the stop tests' count: enough to queue most of them,
	// few enough to read through the small buffers quickly.
	drainPubs = 40
)

// noise is text that compresses little (the connections negotiate
// permessage-deflate).
var noise = func() string {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, bigMsg/2)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return hex.EncodeToString(b)
}()

func bigPayload(i int) []byte {
	return []byte(fmt.Sprintf("%06d", i) + noise[6:])
}

func seqOf(t *testing.T, m string) int {
	t.Helper()
	i, err := strconv.Atoi(m[:6])
	if err != nil {
		t.Fatalf("bad message %.20q", m)
	}
	return i
}

// stall publishes n messages to a stalled subscriber.
func stall(t *testing.T, h *hub.Hub, n int) {
	t.Helper()
	for i := range n {
		if err := h.Publish(context.Background(), "t", websocket.TextMessage, bigPayload(i)); err != nil {
			t.Fatal(err)
		}
	}
}

// readSeqs reads count messages, checking they come in order.
func readSeqs(t *testing.T, cl *websocket.Client, count int) []int {
	t.Helper()
	got := make([]int, count)
	for i := range got {
		got[i] = seqOf(t, read(t, cl))
		if i > 0 && got[i] <= got[i-1] {
			t.Fatalf("out of order: %d after %d", got[i], got[i-1])
		}
	}
	return got
}

func TestSlowDropNewest(t *testing.T) {
	n := startNode(t, &hub.Config{QueueSize: slowQueue, Policy: hub.DropNewest})
	cl := n.dial(t, "t", "end")
	stall(t, n.h, pubs)
	dropped := int(n.h.Stats().DroppedNewest)
	// What arrives is in order and misses the newest messages: they came
	// while the queue stayed full.
	got := readSeqs(t, cl, pubs-dropped)
	if last := got[len(got)-1]; last >= pubs-slowQueue {
		t.Fatalf("got message %d of %d: the newest should have been dropped", last, pubs)
	}
	expect(t, cl, n.h, "end")
	if st := n.h.Stats(); st.DroppedOldest != 0 || st.Disconnected != 0 || dropped < pubs/2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSlowDropOldest(t *testing.T) {
	n := startNode(t, &hub.Config{QueueSize: slowQueue}) // the default policy
	cl := n.dial(t, "t", "end")
	stall(t, n.h, pubs)
	dropped := int(n.h.Stats().DroppedOldest)
	// What arrives is in order, and its last slowQueue messages are the
	// newest ones.
	got := readSeqs(t, cl, pubs-dropped)
	for i := range slowQueue {
		if want := pubs - slowQueue + i; got[len(got)-slowQueue+i] != want {
			t.Fatalf("tail %v, want the last %d of %d", got[len(got)-slowQueue:], slowQueue, pubs)
		}
	}
	expect(t, cl, n.h, "end")
	if st := n.h.Stats(); st.DroppedNewest != 0 || st.Disconnected != 0 || dropped < pubs/2 {
		t.Fatalf("stats %+v", st)
	}
}

// TestSlowDisconnect, with the default CloseTimeout and with none
// (negative; it failed before: a negative bound cut the close short, and
// the client saw no close frame).
func TestSlowDisconnect(t *testing.T) {
	for _, closeTimeout := range []time.Duration{0, -1} {
		t.Run(fmt.Sprint("CloseTimeout=", closeTimeout), func(t *testing.T) { testSlowDisconnect(t, closeTimeout) })
	}
}

func testSlowDisconnect(t *testing.T, closeTimeout time.Duration) {
	n := startNode(t, &hub.Config{QueueSize: slowQueue, Policy: hub.DropNewest,
		PolicyFor: func(p string) hub.Policy {
			if p == "t" {
				return hub.Disconnect
			}
			return hub.DropNewest
		}, CloseCode: 4000, CloseReason: "too slow", CloseTimeout: closeTimeout})
	cl := n.dial(t, "t")
	fast := n.dial(t, "other")
	stall(t, n.h, pubs)
	// The slow one reads what was written before the decision, in order,
	// then the close.
	prev := -1
	for {
		m, err := cl.ReadTextMessage(netkittest.Context(t))
		if err != nil {
			if !isCloseCode(err, 4000) {
				t.Fatalf("after %d messages: %v, want close 4000", prev+1, err)
			}
			break
		}
		if i := seqOf(t, string(m)); i != prev+1 {
			t.Fatalf("got %d after %d", i, prev)
		}
		prev++
	}
	if prev+1 >= pubs {
		t.Fatalf("all %d messages arrived", pubs)
	}
	st := n.h.Stats()
	if st.Disconnected != 1 || st.Subscribers != 1 || st.Patterns != 1 {
		t.Fatalf("stats %+v", st)
	}
	publish(t, n.h, "other", "still here")
	if got := read(t, fast); got != "still here" {
		t.Fatalf("the other subscriber got %q", got)
	}
}

// A hub's graceful stop writes what is queued before it returns.
func TestGracefulStopDrains(t *testing.T) {
	n := startNode(t, &hub.Config{QueueSize: 1000})
	cl := n.dial(t, "t")
	stall(t, n.h, drainPubs) // the messages wait in the hub's queue
	stopped := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go func() { stopped <- n.h.GracefulStop(ctx) }()
	for i := range drainPubs {
		if got := seqOf(t, read(t, cl)); got != i {
			t.Fatalf("message %d: %d", i, got)
		}
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if st := n.h.Stats(); st.Sent != drainPubs || st.Discarded != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// When the stop's ctx ends first, or on ImmediateStop, what is still
// queued is discarded; what was written arrives in order.
func TestStopDiscards(t *testing.T) {
	for _, immediate := range []bool{false, true} {
		n := startNode(t, &hub.Config{QueueSize: 1000})
		cl := n.dial(t, "t")
		stall(t, n.h, drainPubs)
		seqs := make(chan int, drainPubs)
		go func() {
			defer close(seqs)
			for {
				m, err := cl.ReadTextMessage(context.Background())
				if err != nil {
					return
				}
				seqs <- seqOf(t, string(m))
			}
		}()
		if immediate {
			if err := n.h.ImmediateStop(); err != nil {
				t.Fatalf("ImmediateStop: %v", err)
			}
		} else {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := n.h.GracefulStop(ctx); err != context.Canceled {
				t.Fatalf("GracefulStop: %v", err)
			}
		}
		st := n.h.Stats()
		if int(st.Sent+st.Discarded) != drainPubs || st.Discarded == 0 {
			t.Fatalf("immediate %v: stats %+v: want sent + discarded = %d, some discarded", immediate, st, drainPubs)
		}
		for i := range int(st.Sent) {
			if got := <-seqs; got != i {
				t.Fatalf("message %d: %d", i, got)
			}
		}
		cl.Close(netkittest.Context(t), 1000, "")
		for range seqs {
			t.Fatal("more messages than the hub sent")
		}
	}
}
