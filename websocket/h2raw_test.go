package websocket_test

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2RawConn is a raw HTTP/2 client for tests that must send what a well
// behaved client never does: a CONNECT without :protocol, DATA before the
// response, RST_STREAM in the middle of a message, a window that never
// opens, GOAWAY, a thousand streams at once. It speaks through
// golang.org/x/net/http2's Framer on one TLS connection, from the test's
// goroutine only (no reader goroutine: every read has a deadline).
type h2RawConn struct {
	t    testing.TB
	tc   *tls.Conn
	fr   *http2.Framer
	henc *hpack.Encoder
	hbuf bytes.Buffer
	next uint32 // the next client stream ID

	// serverSettings are the values of the server's first SETTINGS.
	serverSettings map[http2.SettingID]uint32
	// autoWindow returns the connection's and each stream's flow-control
	// credit as DATA arrives (a WINDOW_UPDATE per DATA frame), except for
	// the streams in stalled.
	autoWindow bool
	stalled    map[uint32]bool
	streams    map[uint32]*h2RawStream
	goaway     *http2.GoAwayFrame // the server's GOAWAY, once seen
	eof        error              // the connection's end, once seen
}

// h2RawStream is what arrived on one stream.
type h2RawStream struct {
	status  int
	header  map[string][]string // regular response fields, lower case
	data    []byte              // DATA not yet parsed as WebSocket frames
	ended   bool                // END_STREAM seen
	rst     *http2.ErrCode      // RST_STREAM seen
	frames  []rawFrame          // parsed WebSocket frames not yet taken
	dataLen int                 // total DATA bytes received
}

// dialH2Raw connects to addr with ALPN h2, sends the preface and settings
// (the client's SETTINGS, for example SETTINGS_INITIAL_WINDOW_SIZE 0) and
// reads the server's first SETTINGS.
func dialH2Raw(t testing.TB, addr string, settings ...http2.Setting) *h2RawConn {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	tc, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tc.Close() })
	if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN chose %q, want h2", p)
	}
	c := &h2RawConn{t: t, tc: tc, next: 1, autoWindow: true, stalled: map[uint32]bool{}, streams: map[uint32]*h2RawStream{}}
	c.fr = http2.NewFramer(tc, tc)
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.fr.MaxHeaderListSize = 1 << 20
	c.henc = hpack.NewEncoder(&c.hbuf)
	tc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(tc, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := c.fr.WriteSettings(settings...); err != nil {
		t.Fatal(err)
	}
	// A large connection window, so that a stalled stream is stalled by
	// its own window only.
	if err := c.fr.WriteWindowUpdate(0, 16<<20); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.serverSettings == nil {
		if err := c.step(time.Until(deadline)); err != nil {
			t.Fatalf("reading the server's SETTINGS: %v", err)
		}
	}
	return c
}

// writeDeadline bounds each write of the client.
func (c *h2RawConn) writeDeadline() { c.tc.SetWriteDeadline(time.Now().Add(5 * time.Second)) }

// connectFields are the request fields of an RFC 8441 WebSocket CONNECT to
// path; tests edit them.
func (c *h2RawConn) connectFields(path string) [][2]string {
	return [][2]string{
		{":method", "CONNECT"},
		{":protocol", "websocket"},
		{":scheme", "https"},
		{":path", path},
		{":authority", c.tc.RemoteAddr().String()},
		{"sec-websocket-version", "13"},
	}
}

// open sends a HEADERS frame with fields on a new stream and returns its ID.
func (c *h2RawConn) open(fields [][2]string) uint32 {
	c.t.Helper()
	c.hbuf.Reset()
	for _, f := range fields {
		c.henc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	id := c.next
	c.next += 2
	c.streams[id] = &h2RawStream{}
	c.writeDeadline()
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.hbuf.Bytes(), EndHeaders: true}); err != nil {
		c.t.Fatalf("HEADERS: %v", err)
	}
	return id
}

// connect opens a WebSocket stream to path and requires the 200.
func (c *h2RawConn) connect(path string) uint32 {
	c.t.Helper()
	id := c.open(c.connectFields(path))
	if st := c.response(id); st.status != 200 {
		c.t.Fatalf("stream %d: status %d, want 200 (%v)", id, st.status, st.header)
	}
	return id
}

// step reads and handles one frame within d.
func (c *h2RawConn) step(d time.Duration) error {
	if c.eof != nil {
		return c.eof
	}
	c.tc.SetReadDeadline(time.Now().Add(d))
	f, err := c.fr.ReadFrame()
	if err != nil {
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			c.eof = err
		}
		return err
	}
	st := c.streams[f.Header().StreamID]
	switch f := f.(type) {
	case *http2.SettingsFrame:
		if f.IsAck() {
			return nil
		}
		if c.serverSettings == nil {
			c.serverSettings = map[http2.SettingID]uint32{}
			f.ForeachSetting(func(s http2.Setting) error { c.serverSettings[s.ID] = s.Val; return nil })
		}
		c.writeDeadline()
		return c.fr.WriteSettingsAck()
	case *http2.PingFrame:
		if !f.IsAck() {
			c.writeDeadline()
			return c.fr.WritePing(true, f.Data)
		}
	case *http2.GoAwayFrame:
		g := *f
		g.FrameHeader = http2.FrameHeader{}
		c.goaway = &g
	case *http2.MetaHeadersFrame:
		if st == nil {
			return fmt.Errorf("HEADERS on unknown stream %d", f.StreamID)
		}
		if st.status == 0 {
			st.status, _ = strconv.Atoi(f.PseudoValue("status"))
			st.header = map[string][]string{}
			for _, hf := range f.RegularFields() {
				st.header[hf.Name] = append(st.header[hf.Name], hf.Value)
			}
		}
		if f.StreamEnded() {
			st.ended = true
		}
	case *http2.DataFrame:
		if st == nil {
			return fmt.Errorf("DATA on unknown stream %d", f.StreamID)
		}
		n := len(f.Data())
		st.data = append(st.data, f.Data()...)
		st.dataLen += n
		if f.StreamEnded() {
			st.ended = true
		}
		if c.autoWindow && n > 0 && !c.stalled[f.StreamID] {
			c.writeDeadline()
			c.fr.WriteWindowUpdate(0, uint32(n))
			if !st.ended {
				c.fr.WriteWindowUpdate(f.StreamID, uint32(n))
			}
		}
		st.parse()
	case *http2.RSTStreamFrame:
		if st != nil {
			code := f.ErrCode
			st.rst = &code
		}
	}
	return nil
}

// parse moves the complete server WebSocket frames of st.data to st.frames.
func (st *h2RawStream) parse() {
	for {
		b := st.data
		if len(b) < 2 {
			return
		}
		f := rawFrame{fin: b[0]&0x80 != 0, rsv: b[0] & 0x70, op: b[0] & 0x0f, masked: b[1]&0x80 != 0}
		n, off := uint64(b[1]&0x7f), 2
		switch n {
		case 126:
			if len(b) < 4 {
				return
			}
			n, off = uint64(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			if len(b) < 10 {
				return
			}
			n, off = binary.BigEndian.Uint64(b[2:]), 10
		}
		if f.masked {
			off += 4
		}
		if uint64(len(b)-off) < n {
			return
		}
		f.payload = append([]byte(nil), b[off:off+int(n)]...)
		st.data = b[off+int(n):]
		st.frames = append(st.frames, f)
	}
}

// until reads frames until cond holds or d passes; it reports whether cond
// held.
func (c *h2RawConn) until(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		if err := c.step(left); err != nil {
			return cond()
		}
	}
	return true
}

// response waits for stream id's response HEADERS (or its reset).
func (c *h2RawConn) response(id uint32) *h2RawStream {
	c.t.Helper()
	st := c.streams[id]
	if !c.until(5*time.Second, func() bool { return st.status != 0 || st.rst != nil }) {
		c.t.Fatalf("stream %d: no response within 5 s (%v)", id, c.eof)
	}
	return st
}

// sendWS writes raw WebSocket bytes (for example from frame) as DATA on
// stream id, in frames of at most 16 KiB.
func (c *h2RawConn) sendWS(id uint32, b []byte) {
	c.t.Helper()
	for len(b) > 0 {
		n := min(len(b), 16<<10)
		c.writeDeadline()
		if err := c.fr.WriteData(id, false, b[:n]); err != nil {
			c.t.Fatalf("DATA: %v", err)
		}
		b = b[n:]
	}
}

// nextFrame returns the next WebSocket frame of stream id within d; ok is
// false when the stream ended or was reset first, or d passed.
func (c *h2RawConn) nextFrame(id uint32, d time.Duration) (f rawFrame, ok bool) {
	st := c.streams[id]
	c.until(d, func() bool { return len(st.frames) > 0 || st.ended || st.rst != nil })
	if len(st.frames) == 0 {
		return rawFrame{}, false
	}
	f = st.frames[0]
	st.frames = st.frames[1:]
	return f, true
}

// expectMessage requires the next message on stream id (fragments joined,
// no compression) to be op with data.
func (c *h2RawConn) expectMessage(id uint32, op byte, data []byte) {
	c.t.Helper()
	var got []byte
	var gotOp byte
	for {
		f, ok := c.nextFrame(id, 5*time.Second)
		if !ok {
			st := c.streams[id]
			c.t.Fatalf("stream %d: no message (ended %v, rst %v, conn %v)", id, st.ended, st.rst, c.eof)
		}
		if f.op != opCont {
			gotOp = f.op
		}
		got = append(got, f.payload...)
		if f.fin {
			break
		}
	}
	if gotOp != op || !bytes.Equal(got, data) {
		c.t.Fatalf("stream %d: got op %d with %d bytes (%.40q), want op %d with %d bytes", id, gotOp, len(got), got, op, len(data))
	}
}

// expectClose requires a close frame with code on stream id, then the end
// of the stream (END_STREAM or RST_STREAM), answering the close as a client
// does.
func (c *h2RawConn) expectClose(id uint32, code int) {
	c.t.Helper()
	for {
		f, ok := c.nextFrame(id, 5*time.Second)
		if !ok {
			st := c.streams[id]
			c.t.Fatalf("stream %d: no close frame (ended %v, rst %v, conn %v)", id, st.ended, st.rst, c.eof)
		}
		if f.op != opClose {
			continue
		}
		got := 0
		if len(f.payload) >= 2 {
			got = int(binary.BigEndian.Uint16(f.payload))
		}
		if got != code {
			c.t.Fatalf("stream %d: close code %d (%q), want %d", id, got, f.payload, code)
		}
		break
	}
	st := c.streams[id]
	if !st.ended && st.rst == nil {
		c.writeDeadline()
		c.fr.WriteData(id, true, frame(true, 0, opClose, closePayload(code, "")))
	}
	if !c.until(5*time.Second, func() bool { return st.ended || st.rst != nil }) {
		c.t.Fatalf("stream %d did not end after the close handshake", id)
	}
}

// reset sends RST_STREAM with code on stream id.
func (c *h2RawConn) reset(id uint32, code http2.ErrCode) {
	c.t.Helper()
	c.writeDeadline()
	if err := c.fr.WriteRSTStream(id, code); err != nil {
		c.t.Fatalf("RST_STREAM: %v", err)
	}
}
