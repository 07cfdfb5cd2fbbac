package websocket_test

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawClient is a raw-socket WebSocket test client: it performs the opening
// handshake by hand and reads and writes individual frames, so tests can
// send anything, including malformed frames.
type rawClient struct {
	t       testing.TB
	nc      net.Conn
	br      *bufio.Reader
	resp    *http.Response
	body    []byte // of a refused upgrade
	deflate bool   // permessage-deflate negotiated
	dict    []byte // last 32 KiB of inflated output (server context takeover)
	zw      *flate.Writer
	zbuf    bytes.Buffer
}

// dialRaw connects to addr and sends an upgrade request for path with the
// extra header fields. It returns the client whatever the status.
func dialRaw(t testing.TB, addr, path string, extra http.Header) *rawClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return upgradeRaw(t, nc, addr, path, extra)
}

// upgradeRaw sends the upgrade request over nc (a TLS connection, say).
func upgradeRaw(t testing.TB, nc net.Conn, addr, path string, extra http.Header) *rawClient {
	t.Helper()
	t.Cleanup(func() { nc.Close() })
	var kb [16]byte
	rand.Read(kb[:])
	key := base64.StdEncoding.EncodeToString(kb[:])
	var req strings.Builder
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", path, addr, key)
	for k, vs := range extra {
		for _, v := range vs {
			fmt.Fprintf(&req, "%s: %s\r\n", k, v)
		}
	}
	req.WriteString("\r\n")
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(nc, req.String()); err != nil {
		t.Fatal(err)
	}
	c := &rawClient{t: t, nc: nc, br: bufio.NewReader(nc)}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatalf("reading the handshake response: %v", err)
	}
	c.resp = resp
	if resp.StatusCode == http.StatusSwitchingProtocols {
		if strings.Contains(resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate") {
			c.deflate = true
		}
	} else {
		c.body, _ = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}
	nc.SetDeadline(time.Time{})
	return c
}

// dialWS connects and requires a 101.
func dialWS(t testing.TB, addr, path string, extra http.Header) *rawClient {
	t.Helper()
	c := dialRaw(t, addr, path, extra)
	if c.resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake status %d", c.resp.StatusCode)
	}
	return c
}

const (
	opCont   = 0x0
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
	rsv1     = 0x40
	rsv2     = 0x20
	rsv3     = 0x10
)

// frame encodes one masked client frame.
func frame(fin bool, rsv, op byte, payload []byte) []byte {
	b0 := rsv | op
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	n := len(payload)
	switch {
	case n < 126:
		out = append(out, 0x80|byte(n))
	case n < 65536:
		out = append(out, 0x80|126, byte(n>>8), byte(n))
	default:
		out = append(out, 0x80|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	out = append(out, key[:]...)
	for i, b := range payload {
		out = append(out, b^key[i&3])
	}
	return out
}

func (c *rawClient) write(b []byte) {
	c.t.Helper()
	if err := c.tryWrite(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// tryWrite writes b within 10 s and returns the error.
func (c *rawClient) tryWrite(b []byte) error {
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.nc.Write(b)
	return err
}

func (c *rawClient) send(fin bool, rsv, op byte, payload []byte) {
	c.t.Helper()
	c.write(frame(fin, rsv, op, payload))
}

func (c *rawClient) sendText(s string)   { c.t.Helper(); c.send(true, 0, opText, []byte(s)) }
func (c *rawClient) sendBinary(b []byte) { c.t.Helper(); c.send(true, 0, opBinary, b) }

func closePayload(code int, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

type rawFrame struct {
	fin     bool
	rsv     byte
	op      byte
	masked  bool
	payload []byte
}

// readFrame reads one frame within the deadline.
func (c *rawClient) readFrame(d time.Duration) (rawFrame, error) {
	c.nc.SetReadDeadline(time.Now().Add(d))
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return rawFrame{}, err
	}
	f := rawFrame{fin: h[0]&0x80 != 0, rsv: h[0] & 0x70, op: h[0] & 0x0f, masked: h[1]&0x80 != 0}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 64<<20 {
		return f, fmt.Errorf("frame of %d bytes", n)
	}
	var key [4]byte
	if f.masked {
		if _, err := io.ReadFull(c.br, key[:]); err != nil {
			return f, err
		}
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(c.br, f.payload); err != nil {
		return f, err
	}
	if f.masked {
		for i := range f.payload {
			f.payload[i] ^= key[i&3]
		}
	}
	return f, nil
}

// event is what a client observed: a data message, a control frame, or the
// connection's end (op -1).
type event struct {
	op      int
	data    []byte
	frames  int
	comp    bool
	readErr error
}

// next returns the next message (fragments joined, inflated) or control
// frame, or the end of the connection.
func (c *rawClient) next(d time.Duration) event {
	c.t.Helper()
	var ev event
	var msg []byte
	var op byte
	for {
		f, err := c.readFrame(d)
		if err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				c.nc.Close() // the server closed: a client closes too
			}
			return event{op: -1, readErr: err}
		}
		if f.op >= 0x8 {
			return event{op: int(f.op), data: f.payload, frames: 1}
		}
		if f.op != opCont {
			op, ev.comp = f.op, f.rsv&rsv1 != 0
		}
		ev.frames++
		msg = append(msg, f.payload...)
		if f.fin {
			break
		}
	}
	if ev.comp {
		var err error
		if msg, err = c.inflate(msg); err != nil {
			c.t.Fatalf("inflating a server message: %v", err)
		}
	}
	ev.op, ev.data = int(op), msg
	return ev
}

var inflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

func (c *rawClient) inflate(p []byte) ([]byte, error) {
	r := flate.NewReaderDict(io.MultiReader(bytes.NewReader(p), bytes.NewReader(inflateTail)), c.dict)
	out, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	c.dict = append(c.dict, out...)
	if len(c.dict) > 32<<10 {
		c.dict = append([]byte(nil), c.dict[len(c.dict)-32<<10:]...)
	}
	return out, nil
}

// deflate compresses msg; with takeover the client's context is kept.
func (c *rawClient) deflatePayload(msg []byte, takeover bool) []byte {
	c.zbuf.Reset()
	if c.zw == nil || !takeover {
		c.zw, _ = flate.NewWriter(&c.zbuf, flate.BestSpeed)
	}
	c.zw.Write(msg)
	c.zw.Flush()
	out := bytes.Clone(c.zbuf.Bytes())
	return bytes.TrimSuffix(out, []byte{0, 0, 0xff, 0xff})
}

// expectMessage requires the next event to be a data message op with data.
func (c *rawClient) expectMessage(op int, data []byte) event {
	c.t.Helper()
	ev := c.next(5 * time.Second)
	if ev.op != op || !bytes.Equal(ev.data, data) {
		c.t.Fatalf("got op %d with %d bytes (%.40q, err %v), want op %d with %d bytes", ev.op, len(ev.data), ev.data, ev.readErr, op, len(data))
	}
	return ev
}

// expectClose requires a close frame with code (0: an empty close frame),
// then the end of the connection (the server closes TCP first).
func (c *rawClient) expectClose(code int) {
	c.t.Helper()
	ev := c.next(5 * time.Second)
	for ev.op == opPong || ev.op == opText || ev.op == opBinary { // echoes sent before the failure
		ev = c.next(5 * time.Second)
	}
	if ev.op != opClose {
		c.t.Fatalf("got op %d (%v), want a close frame %d", ev.op, ev.readErr, code)
	}
	got := 0
	if len(ev.data) >= 2 {
		got = int(binary.BigEndian.Uint16(ev.data))
	}
	if got != code {
		c.t.Fatalf("close code %d (payload %q), want %d", got, ev.data, code)
	}
	c.expectEOF()
}

// expectEOF requires the server to close the TCP connection (after the
// client echoes nothing more than a close frame).
func (c *rawClient) expectEOF() {
	c.t.Helper()
	// Answer the close, as a client does, so that the server closes.
	c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	c.nc.Write(frame(true, 0, opClose, nil))
	for i := 0; i < 100; i++ {
		_, err := c.readFrame(5 * time.Second)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatalf("the server did not close the connection: %v", err)
		}
		c.nc.Close()
		return
	}
	c.t.Fatal("too many frames after close")
}

// expectDrop requires the connection to end (close frame optional).
func (c *rawClient) expectNothing(d time.Duration) {
	c.t.Helper()
	ev := c.next(d)
	var ne net.Error
	if ev.op != -1 || !errors.As(ev.readErr, &ne) || !ne.Timeout() {
		c.t.Fatalf("expected silence, got op %d (%q, %v)", ev.op, ev.data, ev.readErr)
	}
}
