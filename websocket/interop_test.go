package websocket_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/websocket"
)

// Interop with independent clients: Node's ws and Python's websockets
// exchange text, binary, fragmented, compressed and 1 MiB messages with a
// netkit echo listener.

const nodeClient = `
const WebSocket = require('ws');
const assert = require('assert');
const ws = new WebSocket(process.argv[1], { perMessageDeflate: { threshold: 0 }, maxPayload: 1 << 25 });
const big = Buffer.alloc(1 << 20); for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
const text = 'hello from node \u00e9\u4e16\ud83d\ude00';
const steps = [
  ['text', () => ws.send(text), (d, bin) => { assert(!bin); assert.strictEqual(d.toString(), text); }],
  ['binary', () => ws.send(Buffer.from([1, 2, 3]), { binary: true }), (d, bin) => { assert(bin); assert.deepStrictEqual([...d], [1, 2, 3]); }],
  ['fragmented', () => { ws.send('frag', { fin: false }); ws.send('men', { fin: false }); ws.send('ted', { fin: true }); },
    (d, bin) => { assert(!bin); assert.strictEqual(d.toString(), 'fragmented'); }],
  ['compressed', () => ws.send('z'.repeat(100000), { compress: true }), (d) => assert.strictEqual(d.toString(), 'z'.repeat(100000))],
  ['1MiB', () => ws.send(big), (d, bin) => { assert(bin); assert(Buffer.compare(d, big) === 0); }],
];
let i = 0;
ws.on('open', () => {
  if (!ws.extensions.includes('permessage-deflate')) { console.log('no permessage-deflate: ' + ws.extensions); process.exit(1); }
  steps[0][1]();
});
ws.on('message', (d, bin) => {
  try { steps[i][2](d, bin); } catch (e) { console.log('step ' + steps[i][0] + ': ' + e.message); process.exit(1); }
  i++;
  if (i < steps.length) steps[i][1](); else ws.close(1000, 'done');
});
ws.on('close', (code) => { console.log(i === steps.length && code === 1000 ? 'OK' : 'closed early ' + code); process.exit(0); });
ws.on('error', (e) => { console.log('error ' + e.message); process.exit(1); });
setTimeout(() => { console.log('timeout at step ' + i); process.exit(1); }, 10000);
`

const pythonClient = `
import asyncio, sys, websockets
async def main(url):
    big = bytes((i * 31) & 0xff for i in range(1 << 20))
    text = "hello from python \u00e9\u4e16\U0001F600"
    async with websockets.connect(url, max_size=1 << 25, compression="deflate") as ws:
        exts = [e.name for e in ws.extensions]
        assert "permessage-deflate" in exts, exts
        await ws.send(text); assert await ws.recv() == text, "text"
        await ws.send(b"\x01\x02\x03"); assert await ws.recv() == b"\x01\x02\x03", "binary"
        await ws.send(["frag", "men", "ted"]); assert await ws.recv() == "fragmented", "fragmented"
        await ws.send("z" * 100000); assert await ws.recv() == "z" * 100000, "compressed"
        await ws.send(big); assert await ws.recv() == big, "1MiB"
        pong = await ws.ping(b"py"); await asyncio.wait_for(pong, 5)
        await ws.close(1000, "done")
        assert ws.close_code == 1000, ws.close_code
    print("OK")
asyncio.run(asyncio.wait_for(main(sys.argv[1]), 10))
`

func TestInteropNodeClient(t *testing.T) {
	node := netkittest.RequireNode(t, "ws")
	l := serveEcho(t, nil)
	out, err := runPeer(func(ctx context.Context) *exec.Cmd { return node.Command(ctx, "-e", nodeClient, wsURL(l, "/ws")) })
	if err != nil || strings.TrimSpace(out) != "OK" {
		t.Fatalf("node client: %v\n%s", err, out)
	}
}

func TestInteropPythonClient(t *testing.T) {
	python := netkittest.RequirePython(t, "websockets")
	l := serveEcho(t, &websocket.ServiceConfig{FragmentSize: 64 << 10})
	out, err := runPeer(func(ctx context.Context) *exec.Cmd {
		return exec.CommandContext(ctx, python, "-c", pythonClient, wsURL(l, "/ws"))
	})
	if err != nil || strings.TrimSpace(out) != "OK" {
		t.Fatalf("python client: %v\n%s", err, out)
	}
}

// runPeer runs the command made by mk with a 20 s bound and returns its
// combined output.
func runPeer(mk func(context.Context) *exec.Cmd) (string, error) {
	return runPeerFor(20*time.Second, mk)
}

// runPeerFor is runPeer bounded by d.
func runPeerFor(d time.Duration, mk func(context.Context) *exec.Cmd) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	out, err := mk(ctx).CombinedOutput()
	return string(out), err
}
