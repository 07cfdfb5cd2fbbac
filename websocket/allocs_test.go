//go:build !race

package websocket_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/netkit-go/netkit/websocket"
)

// echoRoundTrip returns a function that sends one pre-encoded frame and
// reads its echo into a preallocated buffer, allocating nothing itself.
func echoRoundTrip(tb testing.TB, nc net.Conn, op byte, payload []byte) func() {
	f := frame(true, 0, op, payload)
	want := len(payload) + 2
	if len(payload) >= 126 {
		want += 2
	}
	buf := make([]byte, want)
	nc.SetDeadline(time.Now().Add(time.Minute))
	return func() {
		if _, err := nc.Write(f); err != nil {
			tb.Fatal(err)
		}
		if _, err := io.ReadFull(nc, buf); err != nil {
			tb.Fatal(err)
		}
		if buf[0] != 0x80|op {
			tb.Fatalf("frame %x", buf[:2])
		}
	}
}

func TestEchoAllocs(t *testing.T) {
	l := serveEcho(t, &websocket.ServiceConfig{Compression: websocket.CompressionConfig{Disable: true}})
	for _, tc := range []struct {
		name string
		op   byte
		size int
	}{{"text 16", opText, 16}, {"text 1000", opText, 1000}, {"binary 100", opBinary, 100}, {"binary 8000", opBinary, 8000}} {
		c := dialWS(t, addrOf(l), "/ws", nil)
		payload := repeatText(tc.size)
		rt := echoRoundTrip(t, c.nc, tc.op, payload)
		rt()
		if n := testing.AllocsPerRun(200, rt); n != 0 {
			t.Errorf("%s: %.1f allocations per echo, want 0", tc.name, n)
		}
	}
}

func TestPullAllocs(t *testing.T) {
	conns := make(chan *websocket.Conn, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := websocket.Accept(w, r, &websocket.ServiceConfig{Compression: websocket.CompressionConfig{Disable: true}}); err == nil {
			conns <- c
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() { hs.Serve(ln); close(done) }()
	defer func() { hs.Close(); <-done }()
	c := dialWS(t, ln.Addr().String(), "/", nil)
	conn := recv(t, conns)
	msg := repeatText(200)
	in := frame(true, 0, opText, msg)
	reply := make([]byte, len(msg)+4)
	buf := make([]byte, 0, 1024)
	ctx := context.Background()
	c.nc.SetDeadline(time.Now().Add(time.Minute))
	round := func() {
		if _, err := c.nc.Write(in); err != nil {
			t.Fatal(err)
		}
		_, out, err := conn.Read(ctx, buf[:0])
		if err != nil || len(out) != len(msg) {
			t.Fatalf("%v %d", err, len(out))
		}
		if err := conn.WriteTextMessage(ctx, out); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c.nc, reply); err != nil {
			t.Fatal(err)
		}
	}
	round()
	if n := testing.AllocsPerRun(200, round); n != 0 {
		t.Errorf("%.1f allocations per Read and Write, want 0", n)
	}
	c.nc.Write(frame(true, 0, opClose, closePayload(1000, "")))
	if _, _, err := conn.Read(ctx, nil); err == nil {
		t.Fatal("Read after the peer's close succeeded")
	}
}
