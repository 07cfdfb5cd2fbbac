package websocket_test

import (
	"context"
	"errors"
	"testing"

	"github.com/netkit-go/netkit/websocket"
)

// FuzzDialURL: any URL string gives ErrMalformedURL or reaches the
// dial (which a cancelled ctx ends at once); never a panic.
func FuzzDialURL(f *testing.F) {
	for _, s := range []string{"ws://127.0.0.1:1/", "wss://[::1]:443/a?b=c", "xxx", "ws://", "ws://h:99999/", "WS://H/%zz", "ws://[fe80::1%25eth0]:80/"} {
		f.Add(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f.Fuzz(func(t *testing.T, url string) {
		c, err := websocket.Dial(ctx, url, &websocket.ClientConfig{Proxy: websocket.NoProxy})
		if err == nil {
			c.Close(ctx, 1000, "")
			t.Fatalf("Dial(%q) with a cancelled ctx succeeded", url)
		}
		if !errors.Is(err, websocket.ErrMalformedURL) && !errors.Is(err, context.Canceled) {
			t.Fatalf("Dial(%q): %T %v", url, err, err)
		}
	})
}
