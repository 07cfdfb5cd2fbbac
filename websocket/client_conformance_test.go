package websocket_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/wsproto"
	"github.com/netkit-go/netkit/websocket"
)

// Client conformance, probed by a raw-frame server: what the client sends
// is masked and well formed, and invalid server frames close with the
// right code (Autobahn case groups 1-7 from the client's side).

// TestClientConformanceMasked: every frame the client sends is masked and
// carries the right payload: text, binary, fragments, ping, pong, close;
// over HTTP/1.1 and over an HTTP/2 stream alike.
func TestClientConformanceMasked(t *testing.T) {
	for _, tr := range clTransports {
		t.Run(tr.name, func(t *testing.T) { testClientConformanceMasked(t, tr) })
	}
}

func testClientConformanceMasked(t *testing.T, tr clTransport) {
	type result struct {
		frames []clFrame
		err    error
	}
	got := make(chan result, 1)
	srv := tr.serve(t, func(rc *clRawConn) {
		var r result
		for len(r.frames) < 8 {
			f, err := rc.readFrame()
			if err != nil {
				r.err = err
				break
			}
			r.frames = append(r.frames, f)
			if f.op == 8 {
				rc.writeFrame(true, 0, 8, f.payload, false) // echo the close
				break
			}
		}
		got <- r
	})
	c := clDial(t, srv.url, srv.config(&websocket.ClientConfig{FragmentSize: 4, Compression: websocket.CompressionConfig{Disable: true}}))
	ctx := testCtx(t)
	c.WriteTextMessage(ctx, []byte("hi"))
	c.WriteBinaryMessage(ctx, []byte{1, 2, 3, 4, 5, 6})
	c.Ping(ctx, []byte("png"))
	c.Pong(ctx, []byte("pog"))
	if err := c.Close(ctx, 1000, "bye"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	r := <-got
	if r.err != nil {
		t.Fatal(r.err)
	}
	want := []clFrame{
		{fin: true, op: 1, payload: []byte("hi")},
		{fin: false, op: 2, payload: []byte{1, 2, 3, 4}},
		{fin: true, op: 0, payload: []byte{5, 6}},
		{fin: true, op: 9, payload: []byte("png")},
		{fin: true, op: 10, payload: []byte("pog")},
		{fin: true, op: 8, payload: clClosePayload(1000, "bye")},
	}
	if len(r.frames) != len(want) {
		t.Fatalf("got %d frames: %+v", len(r.frames), r.frames)
	}
	for i, f := range r.frames {
		w := want[i]
		if !f.masked || f.fin != w.fin || f.op != w.op || f.rsv != 0 || !bytes.Equal(f.payload, w.payload) {
			t.Errorf("frame %d: %+v, want masked %+v", i, f, w)
		}
	}
}

// TestClientConformanceBadServerFrames: each protocol violation by the
// server fails the read with the right typed error and close code, over
// HTTP/1.1 and over an HTTP/2 stream alike.
func TestClientConformanceBadServerFrames(t *testing.T) {
	for _, tr := range clTransports {
		t.Run(tr.name, func(t *testing.T) { testClientConformanceBadServerFrames(t, tr) })
	}
}

func testClientConformanceBadServerFrames(t *testing.T, tr clTransport) {
	type fr struct {
		fin     bool
		rsv, op byte
		payload []byte
		mask    bool
	}
	invalidUTF8 := []byte{0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80, 0x65}
	cases := []struct {
		name   string
		cfg    websocket.ClientConfig
		frames []fr
		code   int
	}{
		{"masked server frame", websocket.ClientConfig{}, []fr{{true, 0, 1, []byte("x"), true}}, 1002},
		{"reserved opcode 3", websocket.ClientConfig{}, []fr{{true, 0, 3, nil, false}}, 1002},
		{"reserved control opcode 11", websocket.ClientConfig{}, []fr{{true, 0, 11, nil, false}}, 1002},
		{"rsv1 without compression", websocket.ClientConfig{}, []fr{{true, 4, 1, []byte("x"), false}}, 1002},
		{"rsv2", websocket.ClientConfig{}, []fr{{true, 2, 1, []byte("x"), false}}, 1002},
		{"fragmented ping", websocket.ClientConfig{}, []fr{{false, 0, 9, nil, false}}, 1002},
		{"ping over 125", websocket.ClientConfig{}, []fr{{true, 0, 9, bytes.Repeat([]byte("p"), 126), false}}, 1002},
		{"continuation first", websocket.ClientConfig{}, []fr{{true, 0, 0, []byte("x"), false}}, 1002},
		{"text inside fragmented text", websocket.ClientConfig{}, []fr{{false, 0, 1, []byte("a"), false}, {true, 0, 1, []byte("b"), false}}, 1002},
		{"close with one byte", websocket.ClientConfig{}, []fr{{true, 0, 8, []byte{3}, false}}, 1002},
		{"close code 1005 on the wire", websocket.ClientConfig{}, []fr{{true, 0, 8, clClosePayload(1005, ""), false}}, 1002},
		{"close code 999", websocket.ClientConfig{}, []fr{{true, 0, 8, clClosePayload(999, ""), false}}, 1002},
		{"invalid UTF-8 text", websocket.ClientConfig{}, []fr{{true, 0, 1, invalidUTF8, false}}, 1007},
		{"invalid UTF-8 across fragments", websocket.ClientConfig{}, []fr{{false, 0, 1, invalidUTF8[:12], false}, {true, 0, 0, invalidUTF8[12:], false}}, 1007},
		{"frame over MaxFrameSize", websocket.ClientConfig{MaxFrameSize: 100}, []fr{{true, 0, 2, make([]byte, 101), false}}, 1009},
		{"message over MaxMessageSize", websocket.ClientConfig{MaxMessageSize: 100}, []fr{{false, 0, 2, make([]byte, 60), false}, {true, 0, 0, make([]byte, 60), false}}, 1009},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			codes := make(chan int, 1)
			srv := tr.serve(t, func(rc *clRawConn) {
				for _, f := range tc.frames {
					rc.writeFrame(f.fin, f.rsv, f.op, f.payload, f.mask)
				}
				codes <- rc.readClose()
			})
			cfg := tc.cfg
			cfg.Compression.Disable = true
			c := clDial(t, srv.url, srv.config(&cfg))
			_, _, err := c.Read(testCtx(t), nil)
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("Read: %v", err)
			}
			switch tc.code {
			case 1009:
				if !errors.Is(err, websocket.ErrPayloadTooLarge) {
					t.Fatalf("Read: %T %v, want ErrPayloadTooLarge", err, err)
				}
			default:
				if !errors.Is(err, websocket.ErrCorruptedFrame) || !strings.Contains(err.Error(), "(close "+strconv.Itoa(tc.code)+")") {
					t.Fatalf("Read: %T %v, want ErrCorruptedFrame %d", err, err, tc.code)
				}
			}
			if code := <-codes; code != tc.code {
				t.Fatalf("client closed with %d, want %d", code, tc.code)
			}
			if c.IsOpen() {
				t.Fatal("IsOpen after a protocol error")
			}
		})
	}
}

// TestClientConformanceGoodServerFrames: valid but unusual server traffic
// is accepted: pings between fragments (answered at once), empty messages,
// a close without a code (1005), 64-bit lengths; over HTTP/1.1 and over an
// HTTP/2 stream alike.
func TestClientConformanceGoodServerFrames(t *testing.T) {
	for _, tr := range clTransports {
		t.Run(tr.name, func(t *testing.T) { testClientConformanceGoodServerFrames(t, tr) })
	}
}

func testClientConformanceGoodServerFrames(t *testing.T, tr clTransport) {
	pong := make(chan clFrame, 1)
	closed := make(chan int, 1)
	big := bytes.Repeat([]byte("L"), 70000)
	srv := tr.serve(t, func(rc *clRawConn) {
		rc.writeFrame(false, 0, 1, []byte("frag"), false)
		rc.writeFrame(true, 0, 9, []byte("mid"), false)
		f, err := rc.readFrame()
		if err == nil {
			pong <- f
		}
		rc.writeFrame(true, 0, 0, []byte("ment"), false)
		rc.writeFrame(true, 0, 2, nil, false)
		rc.writeFrame(true, 0, 2, big, false)
		rc.writeFrame(true, 0, 8, nil, false)
		closed <- rc.readClose()
	})
	c := clDial(t, srv.url, srv.config(&websocket.ClientConfig{Compression: websocket.CompressionConfig{Disable: true}}))
	if tr.name == "h2" && c.HTTPVersion() != "2" {
		t.Fatalf("HTTPVersion %q over the h2 server", c.HTTPVersion())
	}
	ctx := testCtx(t)
	if s, err := c.ReadTextMessage(ctx); err != nil || string(s) != "fragment" {
		t.Fatalf("%q %v", s, err)
	}
	if f := <-pong; f.op != 10 || string(f.payload) != "mid" || !f.masked {
		t.Fatalf("pong %+v", f)
	}
	if typ, b, err := c.Read(ctx, nil); err != nil || typ != websocket.BinaryMessage || len(b) != 0 {
		t.Fatalf("empty message: %v %v %v", typ, b, err)
	}
	if b, err := c.ReadBinaryMessage(ctx); err != nil || !bytes.Equal(b, big) {
		t.Fatalf("64-bit length: %d %v", len(b), err)
	}
	_, _, err := c.Read(ctx, nil)
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 1005 {
		t.Fatalf("empty close: %v", err)
	}
	if code := <-closed; code != 1005 {
		t.Fatalf("client echoed %d, want an empty close (1005)", code)
	}
	// The client already closed: Close reports it.
	if err := c.Close(context.Background(), 1000, ""); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Close after the server's close: %v", err)
	}
}

// TestClientConformanceBadHandshake: responses that break RFC 6455 §4.1
// fail Dial.
func TestClientConformanceBadHandshake(t *testing.T) {
	for _, tc := range []struct{ name, extra string }{
		{"unoffered subprotocol", "Sec-WebSocket-Protocol: chat\r\n"},
		{"unoffered extension", "Sec-WebSocket-Extensions: x-unknown\r\n"},
	} {
		srv := clNewRawServerResp(t, tc.extra, func(rc *clRawConn) {})
		_, err := websocket.Dial(testCtx(t), srv.url, &websocket.ClientConfig{Compression: websocket.CompressionConfig{Disable: true}})
		var he *websocket.InvalidHandshakeError
		if !errors.As(err, &he) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// TestClientConformanceBadAcceptKey: a 101 with a wrong
// Sec-WebSocket-Accept fails Dial with status 101 and the reason.
func TestClientConformanceBadAcceptKey(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		buf := make([]byte, 4096)
		nc.Read(buf)
		nc.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: d3Jvbmc=\r\n\r\n"))
	}()
	_, err = websocket.Dial(testCtx(t), "ws://"+ln.Addr().String()+"/", nil)
	var he *websocket.InvalidHandshakeError
	if !errors.As(err, &he) || he.Status != 101 || !strings.Contains(strings.ToLower(err.Error()), "accept") {
		t.Fatalf("Dial: %v", err)
	}
	<-done
}

// TestClientFramesBufferedWithResponse: frames sent in the same segment as
// the 101 response (read by the handshake's buffer) reach Read and an
// AsyncClient's callbacks first.
func TestClientFramesBufferedWithResponse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 2; i++ {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			br := bufio.NewReader(nc)
			req, err := http.ReadRequest(br)
			if err != nil {
				nc.Close()
				return
			}
			resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
				wsproto.AcceptKey(req.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n"
			msg := append([]byte{0x81, 5}, "early"...)
			msg = append(msg, 0x88, 2, 0x03, 0xe8) // close 1000
			nc.Write(append([]byte(resp), msg...))
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			io.Copy(io.Discard, br) // until the client's close and FIN
			nc.Close()
		}
	}()
	url := "ws://" + ln.Addr().String() + "/"
	c, err := websocket.Dial(testCtx(t), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := c.ReadTextMessage(testCtx(t)); err != nil || string(s) != "early" {
		t.Fatalf("%q %v", s, err)
	}
	var ce *websocket.CloseError
	if _, _, err := c.Read(testCtx(t), nil); !errors.As(err, &ce) || ce.Code != 1000 {
		t.Fatalf("close: %v", err)
	}
	got := make(chan string, 2)
	ac, err := websocket.DialAsync(testCtx(t), url, &websocket.ServiceFuncs{
		OnTextMessage: func(c *websocket.Conn, text []byte) error { got <- string(text); return nil },
		OnClose:       func(c *websocket.Conn, code int, reason string) { got <- "close " + strconv.Itoa(code) },
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	<-ac.Done()
	if a, b := <-got, <-got; a != "early" || b != "close 1000" {
		t.Fatalf("callbacks %q %q", a, b)
	}
}
