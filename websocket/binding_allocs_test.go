//go:build !race

package websocket_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/netkit-go/netkit/websocket"
)

// ackService binds each message to a chat and answers a fixed "ok".
type ackService struct{}

var ack = []byte("ok")

func (ackService) OnMessage(c *websocket.Conn, v chat) error {
	if v.From == "" {
		panic("not bound")
	}
	return c.WriteTextMessage(context.Background(), ack)
}

// boundRoundTrip sends one chat message and reads the 4-byte "ok" frame.
func boundRoundTrip(tb testing.TB) func() {
	l := serve(tb, "/bind", websocket.Static(ackService{}), &websocket.ServiceConfig{Compression: websocket.CompressionConfig{Disable: true}}, nil)
	c := dialWS(tb, addrOf(l), "/bind", nil)
	f := frame(true, 0, opText, []byte(`{"from":"ann","text":"a chat message of some length"}`))
	buf := make([]byte, 4)
	c.nc.SetDeadline(time.Now().Add(10 * time.Minute))
	return func() {
		if _, err := c.nc.Write(f); err != nil {
			tb.Fatal(err)
		}
		if _, err := io.ReadFull(c.nc, buf); err != nil || string(buf[2:]) != "ok" {
			tb.Fatal(err, buf)
		}
	}
}

// TestOnMessageAllocs reports what OnMessage into a struct costs per
// message (the plain OnTextMessage echo stays at 0, TestEchoAllocs) and
// bounds it, so that a regression shows.
func TestOnMessageAllocs(t *testing.T) {
	rt := boundRoundTrip(t)
	rt()
	n := testing.AllocsPerRun(200, rt)
	t.Logf("OnMessage(c, v chat): %.1f allocations per message", n)
	if n > 12 {
		t.Errorf("%.1f allocations per message, want <= 12", n)
	}
}

// BenchmarkOnMessageStruct: the round trip of a message bound to a struct.
func BenchmarkOnMessageStruct(b *testing.B) {
	rt := boundRoundTrip(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rt()
	}
}
