package websocket_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/netkit-go/netkit/websocket"
)

// BenchmarkEchoRoundTrip: one client sends a message and waits for the
// echo of a netkit listener (loopback, client in the same process: its
// allocations count too; it allocates nothing).
func BenchmarkEchoRoundTrip(b *testing.B) {
	l := serveEcho(b, &websocket.ServiceConfig{Compression: websocket.CompressionConfig{Disable: true}})
	for _, size := range []int{16, 1 << 10, 16 << 10, 64 << 10} {
		for _, op := range []byte{opText, opBinary} {
			name := fmt.Sprintf("%s/%d", map[byte]string{opText: "text", opBinary: "binary"}[op], size)
			b.Run(name, func(b *testing.B) {
				c := dialWS(b, addrOf(l), "/ws", nil)
				rt := echoRoundTripB(b, c, op, repeatText(size))
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					rt()
				}
			})
		}
	}
}

func echoRoundTripB(tb testing.TB, c *rawClient, op byte, payload []byte) func() {
	f := frame(true, 0, op, payload)
	n := len(payload) + 2
	switch {
	case len(payload) >= 65536:
		n += 8
	case len(payload) >= 126:
		n += 2
	}
	buf := make([]byte, n)
	c.nc.SetDeadline(time.Now().Add(10 * time.Minute))
	return func() {
		if _, err := c.nc.Write(f); err != nil {
			tb.Fatal(err)
		}
		if _, err := io.ReadFull(c.nc, buf); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkCompressedEcho: the same with permessage-deflate (server side
// compresses each reply; the client reads it raw).
func BenchmarkCompressedEcho(b *testing.B) {
	l := serveEcho(b, nil)
	c := dialWS(b, addrOf(l), "/ws", http.Header{"Sec-WebSocket-Extensions": {"permessage-deflate"}})
	msg := repeatText(4 << 10)
	f := frame(true, rsv1, opText, c.deflatePayload(msg, false))
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	c.nc.SetDeadline(time.Now().Add(10 * time.Minute))
	for i := 0; i < b.N; i++ {
		c.write(f)
		if ev := c.next(time.Minute); ev.op != opText {
			b.Fatal(ev.readErr)
		}
	}
}

// BenchmarkBroadcastTrySend: one prepared message to 16 connections.
func BenchmarkBroadcastTrySend(b *testing.B) {
	conns := make(chan *websocket.Conn, 16)
	svc := &websocket.ServiceFuncs{OnOpen: func(c *websocket.Conn) error { conns <- c; return nil }}
	l := serve(b, "/ws", websocket.Static(svc), &websocket.ServiceConfig{Compression: websocket.CompressionConfig{Disable: true}}, nil)
	var clients []*rawClient
	var callers []*websocket.Conn
	for i := 0; i < 16; i++ {
		clients = append(clients, dialWS(b, addrOf(l), "/ws", nil))
		callers = append(callers, <-conns)
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, repeatText(512))
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 516)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		for _, c := range callers {
			if err := c.TrySend(ctx, pm); err != nil {
				b.Fatal(err)
			}
		}
		for _, c := range clients {
			c.nc.SetReadDeadline(time.Now().Add(time.Minute))
			if _, err := io.ReadFull(c.nc, buf); err != nil {
				b.Fatal(err)
			}
		}
	}
}
