package websocket_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/netkit-go/netkit/internal/wstest"
	"github.com/netkit-go/netkit/netkittest"
)

// The conformance suite, organised like Autobahn's case groups. Each case
// drives an echo server with raw frames and asserts its exact reaction. The
// same cases run against netkit's echo listener and against a Node `ws`
// echo server, which checks the suite's expectations, not only netkit's
// agreement with them.

type confCase struct {
	name    string
	deflate bool // offer permessage-deflate
	// netkitOnly explains why a case is not run against Node ws.
	netkitOnly string
	run        func(t *testing.T, c *rawClient)
}

func repeatText(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = "abcdefghijklmnopqrstuvwxyz0123456789 "[i%37]
	}
	return b
}

func bytesN(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func echoCase(name string, op byte, payload []byte) confCase {
	return confCase{name: name, run: func(t *testing.T, c *rawClient) {
		c.send(true, 0, op, payload)
		c.expectMessage(int(op), payload)
	}}
}

func failCase(name string, code int, frames ...[]byte) confCase {
	return confCase{name: name, run: func(t *testing.T, c *rawClient) {
		for i, f := range frames {
			if err := c.tryWrite(f); err != nil {
				// The server may fail the connection on an earlier frame
				// and end it before the later ones are written: over HTTP/2
				// the stream's end fails the write (over TCP it is
				// buffered). Its close frame is still to be read.
				if i == 0 {
					t.Fatalf("write: %v", err)
				}
				break
			}
		}
		c.expectClose(code)
	}}
}

func confCases() []confCase {
	var cs []confCase
	// 1: framing.
	for _, n := range []int{0, 125, 126, 127, 65535, 65536} {
		cs = append(cs, echoCase(fmt.Sprintf("1.1 text %d bytes", n), opText, repeatText(n)))
		cs = append(cs, echoCase(fmt.Sprintf("1.2 binary %d bytes", n), opBinary, bytesN(n)))
	}
	cs = append(cs, confCase{name: "1.3 frame written byte by byte", run: func(t *testing.T, c *rawClient) {
		f := frame(true, 0, opText, repeatText(200))
		for i := range f {
			c.write(f[i : i+1])
		}
		c.expectMessage(opText, repeatText(200))
	}})
	cs = append(cs, confCase{name: "1.4 two messages in one write", run: func(t *testing.T, c *rawClient) {
		c.write(append(frame(true, 0, opText, []byte("one")), frame(true, 0, opBinary, []byte("two"))...))
		c.expectMessage(opText, []byte("one"))
		c.expectMessage(opBinary, []byte("two"))
	}})

	// 2: ping/pong.
	for _, p := range [][]byte{nil, []byte("hello"), bytesN(125)} {
		p := p
		cs = append(cs, confCase{name: fmt.Sprintf("2.1 ping %d bytes gets pong", len(p)), run: func(t *testing.T, c *rawClient) {
			c.send(true, 0, opPing, p)
			c.expectMessage(opPong, p)
		}})
	}
	cs = append(cs, failCase("2.5 ping 126 bytes", 1002, frame(true, 0, opPing, bytesN(126))))
	cs = append(cs, confCase{name: "2.6 unsolicited pong ignored", run: func(t *testing.T, c *rawClient) {
		c.send(true, 0, opPong, []byte("unsolicited"))
		c.sendText("after")
		c.expectMessage(opText, []byte("after"))
	}})
	cs = append(cs, confCase{name: "2.7 ten pings ten pongs", run: func(t *testing.T, c *rawClient) {
		var b []byte
		for i := 0; i < 10; i++ {
			b = append(b, frame(true, 0, opPing, []byte{byte(i)})...)
		}
		c.write(b)
		for i := 0; i < 10; i++ {
			c.expectMessage(opPong, []byte{byte(i)})
		}
	}})
	cs = append(cs, failCase("2.8 fragmented ping", 1002, frame(false, 0, opPing, []byte("a"))))

	// 3: reserved bits.
	cs = append(cs, failCase("3.1 RSV1 on text without extension", 1002, frame(true, rsv1, opText, []byte("x"))))
	cs = append(cs, failCase("3.2 RSV2 on text", 1002, frame(true, rsv2, opText, []byte("x"))))
	cs = append(cs, failCase("3.3 RSV3 on ping", 1002, frame(true, rsv3, opPing, nil)))
	cs = append(cs, failCase("3.4 RSV2|RSV3 on close", 1002, frame(true, rsv2|rsv3, opClose, closePayload(1000, ""))))
	cs = append(cs, failCase("3.5 echo then RSV2 on binary", 1002, frame(true, 0, opText, []byte("ok")), frame(true, rsv2, opBinary, []byte("x"))))

	// 4: opcodes.
	for _, op := range []byte{3, 4, 5, 6, 7} {
		cs = append(cs, failCase(fmt.Sprintf("4.1 reserved data opcode %d", op), 1002, frame(true, 0, op, nil)))
	}
	for _, op := range []byte{0xB, 0xC, 0xD, 0xE, 0xF} {
		cs = append(cs, failCase(fmt.Sprintf("4.2 reserved control opcode %#x", op), 1002, frame(true, 0, op, []byte("p"))))
	}
	cs = append(cs, failCase("4.3 echo then opcode 5", 1002, frame(true, 0, opText, []byte("ok")), frame(true, 0, 5, nil)))

	// 5: fragmentation.
	cs = append(cs, confCase{name: "5.1 text in two fragments", run: func(t *testing.T, c *rawClient) {
		c.send(false, 0, opText, []byte("frag"))
		c.send(true, 0, opCont, []byte("ment"))
		c.expectMessage(opText, []byte("fragment"))
	}})
	cs = append(cs, confCase{name: "5.2 ping between fragments", run: func(t *testing.T, c *rawClient) {
		c.send(false, 0, opText, []byte("frag"))
		c.send(true, 0, opPing, []byte("p"))
		c.expectMessage(opPong, []byte("p"))
		c.send(true, 0, opCont, []byte("ment"))
		c.expectMessage(opText, []byte("fragment"))
	}})
	cs = append(cs, confCase{name: "5.3 binary in 100 one-byte fragments", run: func(t *testing.T, c *rawClient) {
		want := bytesN(100)
		var b []byte
		for i := range want {
			op := byte(opCont)
			if i == 0 {
				op = opBinary
			}
			b = append(b, frame(i == len(want)-1, 0, op, want[i:i+1])...)
		}
		c.write(b)
		c.expectMessage(opBinary, want)
	}})
	cs = append(cs, confCase{name: "5.4 empty fragments", run: func(t *testing.T, c *rawClient) {
		c.send(false, 0, opText, nil)
		c.send(false, 0, opCont, []byte("x"))
		c.send(true, 0, opCont, nil)
		c.expectMessage(opText, []byte("x"))
	}})
	cs = append(cs, failCase("5.5 continuation without message", 1002, frame(true, 0, opCont, []byte("x"))))
	cs = append(cs, failCase("5.6 new message inside fragmented one", 1002, frame(false, 0, opText, []byte("a")), frame(true, 0, opText, []byte("b"))))
	cs = append(cs, failCase("5.7 fin continuation after whole message", 1002, frame(true, 0, opText, []byte("a")), frame(true, 0, opCont, []byte("b"))))

	// 6: UTF-8.
	for i, s := range []string{"Hello-µ@ßöäüàá-UTF-8!!", "κόσμε", "\U0001F600 4-byte", "\u00a0\u0800\uffff\U0010ffff"} {
		cs = append(cs, echoCase(fmt.Sprintf("6.1.%d valid UTF-8", i+1), opText, []byte(s)))
	}
	cs = append(cs, confCase{name: "6.2 code point split across fragments", run: func(t *testing.T, c *rawClient) {
		c.send(false, 0, opText, []byte("\xce"))
		c.send(true, 0, opCont, []byte("\xba"))
		c.expectMessage(opText, []byte("κ"))
	}})
	for i, s := range []string{"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited", "\xc0\xaf", "\xf4\x90\x80\x80", "\x80", "abc\xce", "\xff"} {
		cs = append(cs, failCase(fmt.Sprintf("6.3.%d invalid UTF-8", i+1), 1007, frame(true, 0, opText, []byte(s))))
	}
	cs = append(cs, failCase("6.4 invalid UTF-8 in a fragment", 1007, frame(false, 0, opText, []byte("ok\xc0")), frame(true, 0, opCont, []byte("\xaf"))))

	// 7: close.
	cs = append(cs, confCase{name: "7.1.1 close 1000 is echoed", run: func(t *testing.T, c *rawClient) {
		c.send(true, 0, opClose, closePayload(1000, "bye"))
		c.expectClose(1000)
	}})
	cs = append(cs, confCase{name: "7.1.2 empty close is echoed empty", run: func(t *testing.T, c *rawClient) {
		c.send(true, 0, opClose, nil)
		c.expectClose(0)
	}})
	cs = append(cs, confCase{name: "7.1.3 text then close", run: func(t *testing.T, c *rawClient) {
		c.sendText("last")
		c.send(true, 0, opClose, closePayload(1000, ""))
		c.expectMessage(opText, []byte("last"))
		c.expectClose(1000)
	}})
	cs = append(cs, confCase{name: "7.1.4 text after close is ignored", run: func(t *testing.T, c *rawClient) {
		c.write(append(frame(true, 0, opClose, closePayload(1000, "")), frame(true, 0, opText, []byte("late"))...))
		ev := c.next(5 * time.Second)
		if ev.op != opClose {
			t.Fatalf("got op %d (%q), want the close echo", ev.op, ev.data)
		}
		c.expectEOF()
	}})
	cs = append(cs, failCase("7.3 close payload of 1 byte", 1002, frame(true, 0, opClose, []byte{0x03})))
	cs = append(cs, failCase("7.5 close reason invalid UTF-8", 1007, frame(true, 0, opClose, append(closePayload(1000, ""), 0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80))))
	for _, code := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		code := code
		cs = append(cs, confCase{name: fmt.Sprintf("7.7 valid close code %d echoed", code), run: func(t *testing.T, c *rawClient) {
			c.send(true, 0, opClose, closePayload(code, "r"))
			c.expectClose(code)
		}})
	}
	for _, code := range []int{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		cs = append(cs, failCase(fmt.Sprintf("7.9 invalid close code %d", code), 1002, frame(true, 0, opClose, closePayload(code, ""))))
	}
	cs = append(cs, failCase("7.10 close payload over 125 bytes", 1002, frame(true, 0, opClose, append(closePayload(1000, ""), repeatText(124)...))))

	// 9: limits and large messages (both servers: 16 MiB).
	cs = append(cs, echoCase("9.1 text 1 MiB", opText, repeatText(1<<20)))
	cs = append(cs, echoCase("9.2 binary 4 MiB", opBinary, bytesN(4<<20)))
	cs = append(cs, confCase{name: "9.3 binary 4 MiB in 64 KiB fragments", run: func(t *testing.T, c *rawClient) {
		want := bytesN(4 << 20)
		var b []byte
		for off := 0; off < len(want); off += 64 << 10 {
			op := byte(opCont)
			if off == 0 {
				op = opBinary
			}
			b = append(b, frame(off+64<<10 >= len(want), 0, op, want[off:off+64<<10])...)
		}
		c.write(b)
		c.expectMessage(opBinary, want)
	}})
	cs = append(cs, confCase{name: "9.4 frame header over 16 MiB gets 1009", run: func(t *testing.T, c *rawClient) {
		h := []byte{0x82, 0x80 | 127}
		h = append(h, 0, 0, 0, 0, 0x01, 0, 0, 1, 1, 2, 3, 4) // 16 MiB + 1, then the key
		c.write(h)
		c.expectClose(1009)
	}})
	cs = append(cs, confCase{name: "9.5 fragmented message over 16 MiB gets 1009", run: func(t *testing.T, c *rawClient) {
		c.send(false, 0, opBinary, bytesN(9<<20))
		h := []byte{0x80, 0x80 | 127}
		h = append(h, 0, 0, 0, 0, 0, 0x80, 0, 0, 1, 2, 3, 4) // 8 MiB more
		c.write(h)
		c.expectClose(1009)
	}})

	// 10: client-side fragmentation of large messages.
	cs = append(cs, confCase{name: "10.1 text 64 KiB in 1300-byte fragments", run: func(t *testing.T, c *rawClient) {
		want := repeatText(64 << 10)
		var b []byte
		for off := 0; off < len(want); off += 1300 {
			end := min(off+1300, len(want))
			op := byte(opCont)
			if off == 0 {
				op = opText
			}
			b = append(b, frame(end == len(want), 0, op, want[off:end])...)
		}
		c.write(b)
		c.expectMessage(opText, want)
	}})

	// 12/13: permessage-deflate.
	cs = append(cs, confCase{name: "12.1 compressed text 1 KiB", deflate: true, run: func(t *testing.T, c *rawClient) {
		want := repeatText(1 << 10)
		c.send(true, rsv1, opText, c.deflatePayload(want, false))
		c.expectMessage(opText, want)
	}})
	cs = append(cs, confCase{name: "12.2 compressed binary 256 KiB", deflate: true, run: func(t *testing.T, c *rawClient) {
		want := repeatText(256 << 10)
		c.send(true, rsv1, opBinary, c.deflatePayload(want, false))
		c.expectMessage(opBinary, want)
	}})
	cs = append(cs, confCase{name: "12.3 compressed message in three fragments", deflate: true, run: func(t *testing.T, c *rawClient) {
		want := repeatText(10 << 10)
		z := c.deflatePayload(want, false)
		a, b := len(z)/3, 2*len(z)/3
		c.send(false, rsv1, opText, z[:a])
		c.send(false, 0, opCont, z[a:b])
		c.send(true, 0, opCont, z[b:])
		c.expectMessage(opText, want)
	}})
	cs = append(cs, confCase{name: "12.4 client context takeover across messages", deflate: true, run: func(t *testing.T, c *rawClient) {
		for i := 0; i < 5; i++ {
			want := []byte(strings.Repeat(fmt.Sprintf("message %d repeated ", i%2), 40))
			c.send(true, rsv1, opText, c.deflatePayload(want, true))
			c.expectMessage(opText, want)
		}
	}})
	cs = append(cs, confCase{name: "12.5 uncompressed message on a compressed connection", deflate: true, run: func(t *testing.T, c *rawClient) {
		c.sendText("plain")
		c.expectMessage(opText, []byte("plain"))
	}})
	cs = append(cs, confCase{name: "13.1 RSV1 on a continuation", deflate: true, run: func(t *testing.T, c *rawClient) {
		z := c.deflatePayload(repeatText(300), false)
		c.send(false, rsv1, opText, z[:5])
		c.send(true, rsv1, opCont, z[5:])
		c.expectClose(1002)
	}})
	cs = append(cs, confCase{name: "13.2 RSV1 on a ping", deflate: true, run: func(t *testing.T, c *rawClient) {
		c.send(true, rsv1, opPing, nil)
		c.expectClose(1002)
	}})
	cs = append(cs, confCase{name: "13.3 invalid deflate data", deflate: true, run: func(t *testing.T, c *rawClient) {
		c.send(true, rsv1, opBinary, []byte{0xff, 0xff, 0xff, 0xff, 0xff})
		c.expectClose(1007)
	}})
	cs = append(cs, confCase{name: "13.4 decompression bomb over 16 MiB", deflate: true,
		netkitOnly: "Debian's ws 8.11 answers 1007 to a message that inflates past maxPayload; RFC 6455 §7.4.1 makes it 1009",
		run: func(t *testing.T, c *rawClient) {
			c.send(true, rsv1, opBinary, c.deflatePayload(make([]byte, 17<<20), false))
			c.expectClose(1009)
		}})
	cs = append(cs, confCase{name: "13.5 compressed text with invalid UTF-8", deflate: true, run: func(t *testing.T, c *rawClient) {
		c.send(true, rsv1, opText, c.deflatePayload(append(repeatText(200), 0xc0, 0xaf), false))
		c.expectClose(1007)
	}})
	return cs
}

// confDialer opens one WebSocket for a case, with the extra request
// header fields, and requires the handshake to succeed.
type confDialer func(t *testing.T, extra http.Header) *rawClient

// tcpDialer dials WebSockets to addr and path with the HTTP/1.1 Upgrade,
// each on its own TCP connection.
func tcpDialer(addr, path string) confDialer {
	return func(t *testing.T, extra http.Header) *rawClient { return dialWS(t, addr, path, extra) }
}

func runConformance(t *testing.T, dial confDialer, netkit bool) {
	for _, tc := range confCases() {
		t.Run(tc.name, func(t *testing.T) {
			if tc.netkitOnly != "" && !netkit {
				t.Skip(tc.netkitOnly)
			}
			var h http.Header
			if tc.deflate {
				h = http.Header{"Sec-WebSocket-Extensions": {"permessage-deflate; client_max_window_bits"}}
			}
			c := dial(t, h)
			if tc.deflate && !c.deflate {
				t.Fatal("permessage-deflate not negotiated")
			}
			tc.run(t, c)
		})
	}
}

func TestConformanceNetkit(t *testing.T) {
	l := serveEcho(t, nil)
	runConformance(t, tcpDialer(addrOf(l), "/ws"), true)
}

// TestConformanceNetkitH2 runs the same cases over HTTP/2 (RFC 8441):
// every WebSocket is an extended CONNECT stream of one TLS connection
// (Autobahn speaks only HTTP/1.1). A failing case ends its stream only,
// so the next case's stream opens on the same connection.
func TestConformanceNetkitH2(t *testing.T) {
	l, _, a := serveEchoTLS(t, nil)
	hc := wstest.DialH2(t, addrOf(l), nil)
	runConformance(t, func(t *testing.T, extra http.Header) *rawClient {
		t.Helper()
		c, st := h2Raw(t, hc, "/ws", extra)
		t.Cleanup(func() { st.Reset(http2.ErrCodeCancel) })
		return c
	}, true)
	a.expect(t, len(a.list()), http.MethodConnect, "HTTP/2.0", true)
}

const nodeEchoServer = `
const { WebSocketServer } = require('ws');
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 16 * 1024 * 1024,
  perMessageDeflate: { threshold: 0 } });
wss.on('listening', () => console.log(wss.address().port));
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`

// startNode runs a node script (with Node's ws module) that prints its
// port on the first line; it is stopped at cleanup.
func startNode(t *testing.T, script string) string {
	t.Helper()
	node := netkittest.RequireNode(t, "ws")
	return netkittest.StartPeer(t, node.Command(context.Background(), "-e", script), 10*time.Second).FirstLine
}

func TestConformanceNodeWS(t *testing.T) {
	port := startNode(t, nodeEchoServer)
	runConformance(t, tcpDialer("127.0.0.1:"+port, "/"), false)
}
