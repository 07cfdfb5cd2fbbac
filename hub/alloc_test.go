//go:build !race

package hub_test

import (
	"strings"
	"testing"

	"github.com/netkit-go/netkit/hub"
	"github.com/netkit-go/netkit/websocket"
)

// A broadcast to 200 subscribers allocates nothing per subscriber: the
// prepared message is shared, the queues are rings, the writers are woken
// through a channel, and the writes allocate nothing. (Publish encodes the
// message: that is its only allocation.)
func TestAllocsBroadcast(t *testing.T) {
	f := startFanout(t, 200, 256, true)
	p, err := hub.Prepare(websocket.TextMessage, []byte(strings.Repeat("x", 256)))
	if err != nil {
		t.Fatal(err)
	}
	f.broadcast(t, p)
	if a := testing.AllocsPerRun(50, func() { f.broadcast(t, p) }); a > 1 {
		t.Errorf("PublishPrepared to 200 subscribers: %.1f allocations, want at most 1", a)
	}
	msg := []byte(strings.Repeat("y", 256))
	if a := testing.AllocsPerRun(50, func() {
		f.got.Add(len(f.subs))
		if err := f.h.Publish(t.Context(), "t", websocket.TextMessage, msg); err != nil {
			t.Fatal(err)
		}
		f.got.Wait()
	}); a > 5 {
		t.Errorf("Publish to 200 subscribers: %.1f allocations, want at most 5 (the prepared message)", a)
	}
}
