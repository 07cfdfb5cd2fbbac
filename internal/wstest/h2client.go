package wstest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// H2Conn is a raw HTTP/2 client connection for tests of WebSockets over
// HTTP/2 (RFC 8441), written on golang.org/x/net/http2's Framer rather
// than its Transport, so that a test can send what a Transport would not
// (a CONNECT without :protocol, DATA before the answer, resets anywhere)
// and can stall one stream's window.
//
// Flow control: the connection's receive window is refilled as DATA
// arrives; a stream's only as its reader consumes it, so a stream that is
// not read stalls its sender without stalling the others. Writes respect
// the server's windows.
type H2Conn struct {
	tb testing.TB
	nc net.Conn
	fr *http2.Framer

	wmu  sync.Mutex // frame writes
	henc *hpack.Encoder
	hbuf bytes.Buffer

	mu       sync.Mutex
	cond     sync.Cond
	streams  map[uint32]*H2Stream
	nextID   uint32
	settings map[http2.SettingID]uint32
	gotSet   bool
	sendWin  int64 // the connection's send window
	initWin  int64 // the server's SETTINGS_INITIAL_WINDOW_SIZE
	goAway   *http2.GoAwayFrame
	err      error // why the reader ended
	done     chan struct{}
}

// clientWindow is the stream receive window the client advertises.
const clientWindow = 1 << 16

// DialH2 connects to addr over TLS with ALPN h2 (tc may be nil: the
// certificate is not verified), sends the preface and SETTINGS, and waits
// for the server's SETTINGS. The connection closes at the end of the test.
func DialH2(tb testing.TB, addr string, tc *tls.Config) *H2Conn {
	tb.Helper()
	if tc == nil {
		tc = &tls.Config{InsecureSkipVerify: true}
	} else {
		tc = tc.Clone()
	}
	tc.NextProtos = []string{"h2"}
	d := &net.Dialer{Timeout: 5 * time.Second}
	nc, err := tls.DialWithDialer(d, "tcp", addr, tc)
	if err != nil {
		tb.Fatal(err)
	}
	if p := nc.ConnectionState().NegotiatedProtocol; p != "h2" {
		nc.Close()
		tb.Fatalf("ALPN negotiated %q, want h2", p)
	}
	c := &H2Conn{tb: tb, nc: nc, streams: map[uint32]*H2Stream{}, nextID: 1,
		settings: map[http2.SettingID]uint32{}, sendWin: 65535, initWin: 65535, done: make(chan struct{})}
	c.cond.L = &c.mu
	c.fr = http2.NewFramer(nc, nc)
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.fr.MaxHeaderListSize = 1 << 20
	c.henc = hpack.NewEncoder(&c.hbuf)
	if _, err := io.WriteString(nc, http2.ClientPreface); err != nil {
		nc.Close()
		tb.Fatal(err)
	}
	c.write(func() error {
		return c.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: clientWindow},
			http2.Setting{ID: http2.SettingEnablePush, Val: 0})
	})
	go c.readLoop()
	tb.Cleanup(c.Close)
	c.mu.Lock()
	deadline := time.AfterFunc(10*time.Second, func() { c.mu.Lock(); c.cond.Broadcast(); c.mu.Unlock() })
	start := time.Now()
	for !c.gotSet && c.err == nil && time.Since(start) < 10*time.Second {
		c.cond.Wait()
	}
	deadline.Stop()
	ok, err := c.gotSet, c.err
	c.mu.Unlock()
	if !ok {
		tb.Fatalf("no SETTINGS from the server: %v", err)
	}
	return c
}

// Close closes the connection and waits for its reader.
func (c *H2Conn) Close() {
	c.nc.Close()
	<-c.done
}

// Setting returns the value of the server's setting id, if it sent one.
func (c *H2Conn) Setting(id http2.SettingID) (uint32, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.settings[id]
	return v, ok
}

// GoAway returns the GOAWAY the server sent, or nil.
func (c *H2Conn) GoAway() *http2.GoAwayFrame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.goAway
}

// WaitGoAway waits up to d for the server's GOAWAY.
func (c *H2Conn) WaitGoAway(d time.Duration) *http2.GoAwayFrame {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := time.AfterFunc(d, func() { c.mu.Lock(); c.cond.Broadcast(); c.mu.Unlock() })
	defer t.Stop()
	end := time.Now().Add(d)
	for c.goAway == nil && c.err == nil && time.Now().Before(end) {
		c.cond.Wait()
	}
	return c.goAway
}

// Done is closed when the connection's reader ended (the server closed
// the connection, or Close).
func (c *H2Conn) Done() <-chan struct{} { return c.done }

func (c *H2Conn) write(f func() error) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return f()
}

// Connect opens a stream with an RFC 8441 extended CONNECT for path
// (:protocol websocket, sec-websocket-version 13 unless header sets
// another) and waits for the answer. header adds fields (lower-cased).
// The stream is returned whatever the status; the error is for transport
// failures (a reset before the answer included).
func (c *H2Conn) Connect(path string, header http.Header) (*H2Stream, error) {
	fields := [][2]string{{":method", "CONNECT"}, {":protocol", "websocket"}, {":scheme", "https"},
		{":path", path}, {":authority", c.nc.RemoteAddr().String()}}
	if header.Get("Sec-WebSocket-Version") == "" {
		fields = append(fields, [2]string{"sec-websocket-version", "13"})
	}
	for k, vs := range header {
		for _, v := range vs {
			fields = append(fields, [2]string{strings.ToLower(k), v})
		}
	}
	st := c.Open(fields, false)
	return st, st.WaitResponse(10 * time.Second)
}

// Open sends HEADERS with fields in order (pseudo-headers first, as
// given) on a new stream, with END_STREAM if end, and returns the stream
// without waiting for the answer.
func (c *H2Conn) Open(fields [][2]string, end bool) *H2Stream {
	c.mu.Lock()
	id := c.nextID
	c.nextID += 2
	st := &H2Stream{c: c, id: id, sendWin: c.initWin, resp: make(chan struct{})}
	c.streams[id] = st
	c.mu.Unlock()
	err := c.write(func() error {
		c.hbuf.Reset()
		for _, f := range fields {
			c.henc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		return c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.hbuf.Bytes(), EndHeaders: true, EndStream: end})
	})
	if err != nil {
		c.tb.Errorf("h2: writing HEADERS: %v", err)
	}
	return st
}

func (c *H2Conn) readLoop() {
	defer close(c.done)
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			c.mu.Lock()
			c.err = err
			for _, st := range c.streams {
				st.fail(fmt.Errorf("h2: connection ended: %w", err))
			}
			c.cond.Broadcast()
			c.mu.Unlock()
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if f.IsAck() {
				continue
			}
			c.mu.Lock()
			f.ForeachSetting(func(s http2.Setting) error {
				c.settings[s.ID] = s.Val
				if s.ID == http2.SettingInitialWindowSize {
					delta := int64(s.Val) - c.initWin
					c.initWin = int64(s.Val)
					for _, st := range c.streams {
						st.sendWin += delta
					}
				}
				return nil
			})
			c.gotSet = true
			c.cond.Broadcast()
			c.mu.Unlock()
			c.write(func() error { return c.fr.WriteSettingsAck() })
		case *http2.PingFrame:
			if !f.IsAck() {
				c.write(func() error { return c.fr.WritePing(true, f.Data) })
			}
		case *http2.WindowUpdateFrame:
			c.mu.Lock()
			if f.StreamID == 0 {
				c.sendWin += int64(f.Increment)
			} else if st := c.streams[f.StreamID]; st != nil {
				st.sendWin += int64(f.Increment)
			}
			c.cond.Broadcast()
			c.mu.Unlock()
		case *http2.MetaHeadersFrame:
			c.mu.Lock()
			if st := c.streams[f.StreamID]; st != nil {
				st.headers(f)
			}
			c.cond.Broadcast()
			c.mu.Unlock()
		case *http2.DataFrame:
			n := len(f.Data())
			if f.Length > 0 {
				// Connection-level credit at once; the stream's on Read.
				c.write(func() error { return c.fr.WriteWindowUpdate(0, f.Length) })
			}
			c.mu.Lock()
			if st := c.streams[f.StreamID]; st != nil {
				st.in.Write(f.Data()[:n])
				st.unacked += f.Length - uint32(n) // padding
				if f.StreamEnded() {
					st.eof = true
				}
			}
			c.cond.Broadcast()
			c.mu.Unlock()
		case *http2.RSTStreamFrame:
			c.mu.Lock()
			if st := c.streams[f.StreamID]; st != nil {
				st.rst = f.ErrCode
				st.fail(http2.StreamError{StreamID: f.StreamID, Code: f.ErrCode})
			}
			c.cond.Broadcast()
			c.mu.Unlock()
		case *http2.GoAwayFrame:
			c.mu.Lock()
			c.goAway = f
			c.cond.Broadcast()
			c.mu.Unlock()
		}
	}
}

// H2Stream is one stream of an H2Conn, as a net.Conn: Read returns the
// DATA the server sent, Write sends DATA, Close sends END_STREAM (half
// close, as FIN), Reset sends RST_STREAM. Its deadlines are its own.
type H2Stream struct {
	c  *H2Conn
	id uint32

	// under c.mu
	status   int
	header   http.Header
	resp     chan struct{} // closed at the response HEADERS (or failure)
	respDone bool
	in       bytes.Buffer
	unacked  uint32
	eof      bool
	err      error
	rst      http2.ErrCode
	gotRST   bool
	sendWin  int64
	rdl, wdl time.Time
	ended    bool // END_STREAM sent
}

func (st *H2Stream) headers(f *http2.MetaHeadersFrame) {
	if st.respDone {
		if f.StreamEnded() {
			st.eof = true
		}
		return
	}
	st.status, _ = strconv.Atoi(f.PseudoValue("status"))
	st.header = http.Header{}
	for _, hf := range f.RegularFields() {
		st.header.Add(http.CanonicalHeaderKey(hf.Name), hf.Value)
	}
	if f.StreamEnded() {
		st.eof = true
	}
	st.respDone = true
	close(st.resp)
}

func (st *H2Stream) fail(err error) {
	if st.err == nil {
		st.err = err
	}
	if _, ok := err.(http2.StreamError); ok {
		st.gotRST = true
	}
	if !st.respDone {
		st.respDone = true
		close(st.resp)
	}
}

// ID returns the stream's identifier.
func (st *H2Stream) ID() uint32 { return st.id }

// WaitResponse waits up to d for the answer's HEADERS.
func (st *H2Stream) WaitResponse(d time.Duration) error {
	select {
	case <-st.resp:
	case <-time.After(d):
		return fmt.Errorf("h2: no answer on stream %d within %v", st.id, d)
	}
	st.c.mu.Lock()
	defer st.c.mu.Unlock()
	if st.status == 0 {
		if st.err != nil {
			return st.err
		}
		return errors.New("h2: no status")
	}
	return nil
}

// Status returns the answer's :status (0 before it).
func (st *H2Stream) Status() int {
	st.c.mu.Lock()
	defer st.c.mu.Unlock()
	return st.status
}

// Header returns the answer's fields (nil before it).
func (st *H2Stream) Header() http.Header {
	st.c.mu.Lock()
	defer st.c.mu.Unlock()
	return st.header
}

// ResetCode returns the code of the server's RST_STREAM, if it sent one.
func (st *H2Stream) ResetCode() (http2.ErrCode, bool) {
	st.c.mu.Lock()
	defer st.c.mu.Unlock()
	return st.rst, st.gotRST
}

// WaitEnd waits up to d for the stream's end from the server
// (END_STREAM, after the data was read, or RST_STREAM, or the
// connection's end) and reports which: reset is true for RST_STREAM.
func (st *H2Stream) WaitEnd(d time.Duration) (ended, reset bool) {
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	t := time.AfterFunc(d, func() { c.mu.Lock(); c.cond.Broadcast(); c.mu.Unlock() })
	defer t.Stop()
	end := time.Now().Add(d)
	for !st.eof && st.err == nil && time.Now().Before(end) {
		c.cond.Wait()
	}
	return st.eof || st.err != nil, st.gotRST
}

// Read implements net.Conn.
func (st *H2Stream) Read(p []byte) (int, error) {
	c := st.c
	c.mu.Lock()
	var t *time.Timer
	for st.in.Len() == 0 {
		if st.eof {
			c.mu.Unlock()
			return 0, io.EOF
		}
		if st.err != nil {
			err := st.err
			c.mu.Unlock()
			return 0, err
		}
		if !st.rdl.IsZero() {
			d := time.Until(st.rdl)
			if d <= 0 {
				c.mu.Unlock()
				if t != nil {
					t.Stop()
				}
				return 0, os.ErrDeadlineExceeded
			}
			if t == nil {
				t = time.AfterFunc(d, func() { c.mu.Lock(); c.cond.Broadcast(); c.mu.Unlock() })
			}
		}
		c.cond.Wait()
	}
	if t != nil {
		t.Stop()
	}
	n, _ := st.in.Read(p)
	credit := uint32(n) + st.unacked
	st.unacked = 0
	c.mu.Unlock()
	if credit > 0 {
		c.write(func() error { return c.fr.WriteWindowUpdate(st.id, credit) })
	}
	return n, nil
}

// Write implements net.Conn: DATA frames of at most 16 KiB, within the
// server's windows.
func (st *H2Stream) Write(p []byte) (int, error) {
	c := st.c
	done := 0
	for done < len(p) {
		c.mu.Lock()
		var t *time.Timer
		for {
			if st.err != nil || c.err != nil || st.ended {
				err := st.err
				if err == nil {
					err = net.ErrClosed
				}
				c.mu.Unlock()
				return done, err
			}
			if st.sendWin > 0 && c.sendWin > 0 {
				break
			}
			if !st.wdl.IsZero() {
				d := time.Until(st.wdl)
				if d <= 0 {
					c.mu.Unlock()
					return done, os.ErrDeadlineExceeded
				}
				if t == nil {
					t = time.AfterFunc(d, func() { c.mu.Lock(); c.cond.Broadcast(); c.mu.Unlock() })
				}
			}
			c.cond.Wait()
		}
		if t != nil {
			t.Stop()
		}
		n := min(int64(len(p)-done), st.sendWin, c.sendWin, 16384)
		st.sendWin -= n
		c.sendWin -= n
		c.mu.Unlock()
		chunk := p[done : done+int(n)]
		if err := c.write(func() error { return c.fr.WriteData(st.id, false, chunk) }); err != nil {
			return done, err
		}
		done += int(n)
	}
	return done, nil
}

// Close sends END_STREAM (the client's half close).
func (st *H2Stream) Close() error {
	c := st.c
	c.mu.Lock()
	if st.ended || st.err != nil {
		c.mu.Unlock()
		return nil
	}
	st.ended = true
	c.mu.Unlock()
	return c.write(func() error { return c.fr.WriteData(st.id, true, nil) })
}

// Reset sends RST_STREAM with code.
func (st *H2Stream) Reset(code http2.ErrCode) error {
	c := st.c
	c.mu.Lock()
	st.ended = true
	c.mu.Unlock()
	return c.write(func() error { return c.fr.WriteRSTStream(st.id, code) })
}

// WriteRaw sends one DATA frame with p, ignoring flow control (for bad
// input).
func (st *H2Stream) WriteRaw(p []byte, end bool) error {
	return st.c.write(func() error { return st.c.fr.WriteData(st.id, end, p) })
}

func (st *H2Stream) LocalAddr() net.Addr  { return st.c.nc.LocalAddr() }
func (st *H2Stream) RemoteAddr() net.Addr { return st.c.nc.RemoteAddr() }

func (st *H2Stream) SetDeadline(t time.Time) error {
	st.SetReadDeadline(t)
	return st.SetWriteDeadline(t)
}

func (st *H2Stream) SetReadDeadline(t time.Time) error {
	st.c.mu.Lock()
	st.rdl = t
	st.c.cond.Broadcast()
	st.c.mu.Unlock()
	return nil
}

func (st *H2Stream) SetWriteDeadline(t time.Time) error {
	st.c.mu.Lock()
	st.wdl = t
	st.c.cond.Broadcast()
	st.c.mu.Unlock()
	return nil
}
