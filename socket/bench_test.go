package socket_test

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/netkit-go/netkit/socket"
)

// benchEcho measures one 64-byte round trip through a listener serving svc,
// driven by a plain net.Conn (which allocates nothing), so allocs/op are the
// server's.
func benchEcho(b *testing.B, svc socket.Service) {
	l := listen(b, svc, nil)
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	msg := make([]byte, 64)
	buf := make([]byte, 64)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := nc.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(nc, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// pullEcho is a 1.x echo reading exactly 64 bytes per call.
type pullEcho struct{}

func (pullEcho) OnReadReady(c *socket.Caller) {
	b, err := c.Read(context.Background(), 64)
	if err != nil {
		c.Close()
		return
	}
	c.Write(context.Background(), b)
}

func BenchmarkEcho0990(b *testing.B) { benchEcho(b, echoService{}) }
func BenchmarkEcho1x(b *testing.B)   { benchEcho(b, pullEcho{}) }
