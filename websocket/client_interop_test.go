package websocket_test

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/websocket"
)

// Interop of the Client with independent servers: Node's ws and Python's
// websockets echo text, binary, fragmented, compressed and 1 MiB messages;
// "fragment-me" makes them answer "fragmented" in three frames.

const clNodeServer = `
const WebSocket = require('ws');
const wss = new WebSocket.Server({ host: '127.0.0.1', port: 0, perMessageDeflate: { threshold: 0 }, maxPayload: 1 << 25 },
  () => console.log(wss.address().port));
wss.on('connection', (ws) => {
  ws.on('message', (d, bin) => {
    if (!bin && d.toString() === 'fragment-me') {
      ws.send('frag', { fin: false }); ws.send('men', { fin: false }); ws.send('ted', { fin: true });
      return;
    }
    ws.send(d, { binary: bin });
  });
});
`

const clPythonServer = `
import asyncio, websockets
async def echo(ws, path=None):
    try:
        async for msg in ws:
            if msg == "fragment-me":
                await ws.send(["frag", "men", "ted"])
            else:
                await ws.send(msg)
    except websockets.ConnectionClosed:
        pass
async def main():
    async with websockets.serve(echo, "127.0.0.1", 0, max_size=2**25, compression="deflate") as srv:
        print(srv.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()
asyncio.run(main())
`

// clStartPeer runs a peer server that prints its port and returns its ws
// URL; the process is killed at cleanup.
func clStartPeer(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	p := netkittest.StartPeer(t, cmd, 15*time.Second)
	return "ws://127.0.0.1:" + p.FirstLine + "/"
}

func clInterop(t *testing.T, url string) {
	ctx := testCtx(t)
	c := clDial(t, url, nil)
	if ext := c.HandshakeResponse().Header.Get("Sec-WebSocket-Extensions"); !strings.Contains(ext, "permessage-deflate") {
		t.Fatalf("compression not negotiated: %q", ext)
	}
	text := "hello \u00e9\u4e16\U0001F600"
	c.WriteTextMessage(ctx, []byte(text))
	if typ, p, err := c.Read(ctx, nil); err != nil || typ != websocket.TextMessage || string(p) != text {
		t.Fatalf("text: %v %q %v", typ, p, err)
	}
	c.WriteBinaryMessage(ctx, []byte{0, 1, 2, 0xff})
	if typ, p, err := c.Read(ctx, nil); err != nil || typ != websocket.BinaryMessage || !bytes.Equal(p, []byte{0, 1, 2, 0xff}) {
		t.Fatalf("binary: %v %v %v", typ, p, err)
	}
	c.WriteTextMessage(ctx, []byte("fragment-me"))
	if s, err := c.ReadTextMessage(ctx); err != nil || string(s) != "fragmented" {
		t.Fatalf("fragmented from the server: %q %v", s, err)
	}
	z := strings.Repeat("z", 100000)
	c.WriteTextMessage(ctx, []byte(z))
	if s, err := c.ReadTextMessage(ctx); err != nil || string(s) != z {
		t.Fatalf("compressed: %d %v", len(s), err)
	}
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i * 31)
	}
	c.WriteBinaryMessage(ctx, big)
	if p, err := c.ReadBinaryMessage(ctx); err != nil || !bytes.Equal(p, big) {
		t.Fatalf("1 MiB: %d %v", len(p), err)
	}
	if err := c.Ping(ctx, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	c.WriteTextMessage(ctx, []byte("after ping"))
	if s, err := c.ReadTextMessage(ctx); err != nil || string(s) != "after ping" {
		t.Fatalf("after ping: %q %v", s, err)
	}
	if err := c.Close(ctx, 1000, "done"); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// Fragmented by the client, without compression.
	c2 := clDial(t, url, &websocket.ClientConfig{FragmentSize: 1000, Compression: websocket.CompressionConfig{Disable: true}})
	long := strings.Repeat("fragmented by the client ", 400)
	c2.WriteTextMessage(ctx, []byte(long))
	if s, err := c2.ReadTextMessage(ctx); err != nil || string(s) != long {
		t.Fatalf("client-fragmented: %d %v", len(s), err)
	}
	c2.WriteBinaryMessage(ctx, big)
	if p, err := c2.ReadBinaryMessage(ctx); err != nil || !bytes.Equal(p, big) {
		t.Fatalf("client-fragmented 1 MiB: %d %v", len(p), err)
	}
	if err := c2.Close(ctx, 1000, ""); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestClientInteropNodeServer(t *testing.T) {
	node := netkittest.RequireNode(t, "ws")
	clInterop(t, clStartPeer(t, node.Command(context.Background(), "-e", clNodeServer)))
}

func TestClientInteropPythonServer(t *testing.T) {
	python := netkittest.RequirePython(t, "websockets")
	clInterop(t, clStartPeer(t, exec.Command(python, "-c", clPythonServer)))
}
