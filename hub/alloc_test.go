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
// message: that is its only allocation.) The same holds with metrics on,
// the hub's (observed from its counts) and its listener's.
func TestAllocsBroadcast(t *testing.T) {
	for _, c := range metricsCases {
		t.Run("metrics "+c.name, func(t *testing.T) {
			mt, hubMP, lMP := providers(t, c.hub, c.listener)
			f := startFanoutMetrics(t, 200, 256, true, hubMP, lMP)
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
			if c.hub {
				if got := mt.Collect(t).Sum("netkit.hub.published.messages"); got != 1+51+51 { // AllocsPerRun runs once more than asked
					t.Errorf("netkit.hub.published.messages %d, want 103", got)
				}
			}
		})
	}
}
