package websocket_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/netkit-go/netkit/websocket"
)

// BenchmarkClientEcho: one Client round trip (write + Read into a reused
// buffer) against the netkit echo server, plain and compressed.
func BenchmarkClientEcho(b *testing.B) {
	for _, comp := range []bool{false, true} {
		for _, size := range []int{16, 1024, 64 << 10} {
			name := "plain/" + strconv.Itoa(size)
			if comp {
				name = "deflate/" + strconv.Itoa(size)
			}
			b.Run(name, func(b *testing.B) {
				cc := websocket.CompressionConfig{Disable: !comp}
				url := clServe(b, "/echo", websocket.Static(websocket.Echo), &websocket.ServiceConfig{Compression: cc})
				c, err := websocket.Dial(context.Background(), url, &websocket.ClientConfig{Compression: cc})
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close(context.Background(), 1000, "")
				ctx := context.Background()
				payload := repeatText(size)
				buf := make([]byte, 0, size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := c.WriteTextMessage(ctx, payload); err != nil {
						b.Fatal(err)
					}
					if _, buf, err = c.Read(ctx, buf[:0]); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkClientWrite: Client writes alone (the server reads and drops).
func BenchmarkClientWrite(b *testing.B) {
	url := clServe(b, "/sink", websocket.Static(&websocket.ServiceFuncs{}), &websocket.ServiceConfig{Compression: websocket.CompressionConfig{Disable: true}})
	c, err := websocket.Dial(context.Background(), url, &websocket.ClientConfig{Compression: websocket.CompressionConfig{Disable: true}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(context.Background(), 1000, "")
	payload := repeatText(1024)
	b.SetBytes(1024)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := c.WriteBinaryMessage(context.Background(), payload); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDial: a full connect + opening handshake + close handshake.
func BenchmarkDial(b *testing.B) {
	url := clServe(b, "/echo", websocket.Static(websocket.Echo), nil)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Close(ctx, 1000, ""); err != nil {
			b.Fatal(err)
		}
	}
}
