//go:build !race

package websocket_test

import (
	"context"
	"testing"

	"github.com/netkit-go/netkit/websocket"
)

// TestClientAllocs: without compression, a Client's Write* and Read(ctx,
// buf) allocate nothing per message (the netkit echo server included).
func TestClientAllocs(t *testing.T) {
	url := clServe(t, "/echo", websocket.Static(websocket.Echo), &websocket.ServiceConfig{Compression: websocket.CompressionConfig{Disable: true}})
	c := clDial(t, url, &websocket.ClientConfig{Compression: websocket.CompressionConfig{Disable: true}})
	ctx := context.Background()
	for _, size := range []int{16, 1000, 8000, 100000} {
		payload := repeatText(size)
		buf := make([]byte, 0, size)
		var err error
		text := func() {
			if err = c.WriteTextMessage(ctx, payload); err != nil {
				return
			}
			_, buf, err = c.Read(ctx, buf[:0])
		}
		binary := func() {
			if err = c.WriteBinaryMessage(ctx, payload); err != nil {
				return
			}
			_, buf, err = c.Read(ctx, buf[:0])
		}
		text()
		binary()
		if n := testing.AllocsPerRun(100, text); n != 0 || err != nil {
			t.Errorf("text %d: %.1f allocations per round trip (%v), want 0", size, n, err)
		}
		if n := testing.AllocsPerRun(100, binary); n != 0 || err != nil {
			t.Errorf("binary %d: %.1f allocations per round trip (%v), want 0", size, n, err)
		}
		if len(buf) != size {
			t.Fatalf("echo of %d bytes", len(buf))
		}
	}
	// A cancellable context (even one with a deadline: it may be cancelled
	// early) costs one context.AfterFunc per call; Background costs nothing.
	dctx := context.Background()
	payload := repeatText(100)
	buf := make([]byte, 0, 100)
	if n := testing.AllocsPerRun(100, func() {
		c.WriteBinaryMessage(dctx, payload)
		_, buf, _ = c.Read(dctx, buf[:0])
	}); n != 0 {
		t.Errorf("Background ctx: %.1f allocations per round trip, want 0", n)
	}
}
