package websocket_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/bufpool"
	"github.com/netkit-go/netkit/websocket"
)

// TestLargeMessageMemoryReturns: a message beyond bufpool's largest class
// (1 MiB, plain and compressed) reaches OnBinaryMessage in a buffer that is
// given back when the callback returns: a slice the callback kept (against
// the contract, on purpose) reads poison under netkit_debug and, on Linux,
// zeros once the free buffers' pages went back to the kernel
// (bufpool.ReleaseFree, which ReleaseDelay's timer does on its own). The echo
// written from it arrives intact, and Client.Read's result, the caller's
// own copy, stays intact after the next Read.
func TestLargeMessageMemoryReturns(t *testing.T) {
	data := make([]byte, 1<<20)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range data {
		data[i] = 'a' + byte(rng.IntN(8))
	}
	for _, comp := range []bool{false, true} {
		name := "plain"
		if comp {
			name = "deflate"
		}
		t.Run(name, func(t *testing.T) {
			var kept []byte
			seen := make(chan string, 1)
			svc := &websocket.ServiceFuncs{OnBinaryMessage: func(c *websocket.Conn, p []byte) error {
				if len(p) == len(data) {
					if !bytes.Equal(p, data) {
						seen <- "message differs"
					}
					kept = p
					return c.WriteBinaryMessage(context.Background(), p)
				}
				bufpool.ReleaseFree() // the pages of free buffers, without waiting for ReleaseDelay
				switch {
				case bufpool.Debug && !bytes.Equal(kept[:4096], bytes.Repeat([]byte{bufpool.PoisonByte}, 4096)):
					seen <- "kept slice not poisoned under netkit_debug"
				case !bufpool.Debug && runtime.GOOS == "linux" && !bytes.Equal(kept, make([]byte, len(kept))):
					seen <- "kept slice still holds the message: its pages did not go back"
				default:
					seen <- ""
				}
				return c.WriteBinaryMessage(context.Background(), p)
			}}
			cc := websocket.CompressionConfig{Disable: !comp}
			l := serve(t, "/ws", websocket.Static(svc), &websocket.ServiceConfig{Compression: cc, MaxMessageSize: 2 << 20}, nil)
			ctx := testCtx(t)
			c, err := websocket.Dial(ctx, wsURL(l, "/ws"), &websocket.ClientConfig{Compression: cc, MaxMessageSize: 2 << 20})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(ctx, 1000, "")
			if err := c.WriteBinaryMessage(ctx, data); err != nil {
				t.Fatal(err)
			}
			_, echo, err := c.Read(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(echo, data) {
				t.Fatalf("echo differs (len %d)", len(echo))
			}
			if err := c.WriteBinaryMessage(ctx, []byte("probe")); err != nil {
				t.Fatal(err)
			}
			if msg := <-seen; msg != "" {
				t.Error(msg)
			}
			if _, p, err := c.Read(ctx, nil); err != nil || string(p) != "probe" {
				t.Fatalf("probe echo %q, %v", p, err)
			}
			if !bytes.Equal(echo, data) {
				t.Fatal("Client.Read's result changed after the next Read")
			}
		})
	}
}

// TestLargeMessageCutOffReleased: a connection that drops in the middle of
// a large message gives its partly assembled buffer and its read buffer
// back (mapped buffers are not reclaimed by the garbage collector, so a
// missed give-back would hold them for good).
func TestLargeMessageCutOffReleased(t *testing.T) {
	inUse0, _, _ := bufpool.MappedStats()
	closed := make(chan struct{})
	svc := &websocket.ServiceFuncs{
		OnBinaryMessage: func(c *websocket.Conn, p []byte) error { return nil },
		OnClose:         func(c *websocket.Conn, code int, reason string) { close(closed) },
	}
	l := serve(t, "/ws", websocket.Static(svc), &websocket.ServiceConfig{MaxMessageSize: 2 << 20}, nil)
	c := dialWS(t, addrOf(l), "/ws", nil)
	f := frame(true, 0, opBinary, make([]byte, 1<<20))
	c.write(f[:600<<10])
	c.nc.Close()
	select {
	case <-closed:
	case <-testCtx(t).Done():
		t.Fatal("no OnClose after the connection dropped")
	}
	// OnClose runs before the connection's last buffers are given back.
	deadline := time.Now().Add(5 * time.Second)
	for {
		inUse, _, _ := bufpool.MappedStats()
		if inUse == inUse0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes of mapped buffers still lent after the connection ended", inUse-inUse0)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
