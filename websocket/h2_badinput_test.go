package websocket_test

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/netkit-go/netkit/internal/wstest"
	"github.com/netkit-go/netkit/websocket"
)

// Bad input over HTTP/2 (RFC 8441), sent with internal/wstest's raw HTTP/2
// client. Each case must get a clear status, RST_STREAM code or
// close code, leave the connection's other streams working, and leak
// nothing (the package's TestMain checks goroutines; the listener's Len
// and each socket's single OnClose are checked here).

// h2Sockets hands each socket its own recorder, named by the request's
// query parameter s, and echoes its messages.
type h2Sockets struct {
	mu     sync.Mutex
	byName map[string]*recorder
	opened chan string
}

func newH2Sockets() *h2Sockets {
	return &h2Sockets{byName: map[string]*recorder{}, opened: make(chan string, 2048)}
}

func (s *h2Sockets) upgrade() websocket.UpgradeService {
	return websocket.UpgradeFunc(func(r *http.Request, _ http.Header) (websocket.Service, error) {
		name := r.URL.Query().Get("s")
		rec := newRecorder()
		s.mu.Lock()
		s.byName[name] = rec
		s.mu.Unlock()
		return &websocket.ServiceFuncs{
			OnOpen: func(c *websocket.Conn) error { s.opened <- name; return nil },
			OnTextMessage: func(c *websocket.Conn, text []byte) error {
				rec.texts <- string(text)
				return c.WriteTextMessage(context.Background(), text)
			},
			OnClose: func(c *websocket.Conn, code int, reason string) { rec.closes <- closeEvent{code, reason} },
			OnError: func(c *websocket.Conn, err error) {
				select {
				case rec.errs <- err:
				default:
				}
			},
		}, nil
	})
}

func (s *h2Sockets) get(t *testing.T, name string) *recorder {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.byName[name]
	if rec == nil {
		t.Fatalf("no socket %q was upgraded", name)
	}
	return rec
}

// serveH2Sockets starts a TLS listener with h2Sockets at /ws.
func serveH2Sockets(t *testing.T, sc *websocket.ServiceConfig, lc *websocket.ListenerConfig) (*websocket.Listener, *h2Sockets) {
	t.Helper()
	s := newH2Sockets()
	l, _ := serveTLS(t, s.upgrade(), sc, lc)
	return l, s
}

// h2Frames reads and writes WebSocket frames on st with rawClient's
// helpers (st is a net.Conn).
func h2Frames(t *testing.T, st *wstest.H2Stream) *rawClient {
	return &rawClient{t: t, nc: st, br: bufio.NewReader(st)}
}

// echoAndClose round-trips text on c, then closes it with 1000 (the
// server's echo, then the stream's end).
func echoAndClose(c *rawClient, text string) {
	c.t.Helper()
	c.sendText(text)
	c.expectMessage(opText, []byte(text))
	c.send(true, 0, opClose, closePayload(1000, ""))
	c.expectClose(1000)
}

// connectFields are the request fields of an RFC 8441 WebSocket CONNECT to
// path on hc (pseudo-fields first); tests edit them.
func connectFields(addr, path string) [][2]string {
	return [][2]string{{":method", "CONNECT"}, {":protocol", "websocket"}, {":scheme", "https"},
		{":path", path}, {":authority", addr}, {"sec-websocket-version", "13"}}
}

// answer waits for st's answer (its HEADERS or its reset).
func answer(t *testing.T, st *wstest.H2Stream) (status int, rst http2.ErrCode, reset bool) {
	t.Helper()
	st.WaitResponse(10 * time.Second)
	rst, reset = st.ResetCode()
	status = st.Status()
	if status == 0 && !reset {
		t.Fatalf("stream %d: no answer", st.ID())
	}
	return status, rst, reset
}

// stopAndCount stops l gracefully (bounded) and requires each named
// socket's OnClose to have run exactly once, with code (0: any), and the
// listener to hold no connection.
func stopAndCount(t *testing.T, l *websocket.Listener, s *h2Sockets, codes map[string]int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.GracefulStop(ctx); err != nil {
		t.Errorf("GracefulStop: %v", err)
	}
	if n := l.Len(); n != 0 {
		t.Errorf("Len() = %d after the stop, want 0", n)
	}
	for name, code := range codes {
		rec := s.get(t, name)
		if n := len(rec.closes); n != 1 {
			t.Errorf("socket %s: OnClose ran %d times, want once", name, n)
			continue
		}
		if ev := <-rec.closes; code != 0 && ev.code != code {
			t.Errorf("socket %s: OnClose(%d, %q), want %d", name, ev.code, ev.reason, code)
		}
	}
}

// TestH2BadConnectRequests: a CONNECT that is not an RFC 8441 WebSocket
// request is refused without a socket, and the connection's next stream
// still opens one.
func TestH2BadConnectRequests(t *testing.T) {
	l, s := serveH2Sockets(t, nil, nil)
	hc := wstest.DialH2(t, addrOf(l), nil)
	if v, _ := hc.Setting(http2.SettingEnableConnectProtocol); v != 1 {
		t.Fatalf("SETTINGS_ENABLE_CONNECT_PROTOCOL = %d, want 1", v)
	}
	without := func(fields [][2]string, names ...string) [][2]string {
		var out [][2]string
	next:
		for _, f := range fields {
			for _, n := range names {
				if f[0] == n {
					continue next
				}
			}
			out = append(out, f)
		}
		return out
	}
	set := func(fields [][2]string, name, value string) [][2]string { // in place: pseudo-fields come first
		out := append([][2]string(nil), fields...)
		for i := range out {
			if out[i][0] == name {
				out[i][1] = value
			}
		}
		return out
	}
	base := connectFields(addrOf(l), "/ws?s=bad")
	for _, tc := range []struct {
		name   string
		fields [][2]string
		status int           // 0: a reset
		rst    http2.ErrCode // with status 0
	}{
		// A classic CONNECT carries neither :path nor :scheme (RFC 9113
		// §8.5): golang.org/x/net/http2 resets it as malformed.
		{"no :protocol, with :path and :scheme", without(base, ":protocol"), 0, http2.ErrCodeProtocol},
		// A proxy request (no path).
		{"classic CONNECT to an authority", without(base, ":protocol", ":path", ":scheme", "sec-websocket-version"), http.StatusBadRequest, 0},
		{":protocol other than websocket", set(base, ":protocol", "chat"), http.StatusNotImplemented, 0},
		{"version 12", set(base, "sec-websocket-version", "12"), http.StatusBadRequest, 0},
		{"no version", without(base, "sec-websocket-version"), http.StatusBadRequest, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := hc.Open(tc.fields, false)
			status, rst, reset := answer(t, st)
			if tc.status == 0 {
				if !reset || rst != tc.rst || status != 0 {
					t.Fatalf("status %d rst %v (%v), want RST_STREAM %v", status, rst, reset, tc.rst)
				}
				return
			}
			if status != tc.status {
				t.Fatalf("status %d (rst %v %v), want %d", status, rst, reset, tc.status)
			}
			if tc.name == "version 12" {
				if v := st.Header().Values("Sec-WebSocket-Version"); len(v) != 1 || v[0] != "13" {
					t.Fatalf("Sec-WebSocket-Version %q, want 13", v)
				}
			}
		})
	}
	if len(s.opened) != 0 {
		t.Fatalf("%d refused requests opened a socket", len(s.opened))
	}
	c, st := h2Raw(t, hc, "/ws?s=good", nil)
	if v := st.Header().Values("Sec-WebSocket-Accept"); v != nil {
		t.Fatalf("Sec-WebSocket-Accept %q on an RFC 8441 answer (§5: none)", v)
	}
	echoAndClose(c, "after the refusals")
	stopAndCount(t, l, s, map[string]int{"good": 1000})
}

// TestH2DataBeforeResponse: WebSocket frames sent right behind the CONNECT,
// before the 200 was read, are the socket's first messages (as bytes right
// behind an HTTP/1.1 upgrade request are): HTTP/2 buffers them within the
// stream's window until the handshake is done.
func TestH2DataBeforeResponse(t *testing.T) {
	l, s := serveH2Sockets(t, nil, nil)
	hc := wstest.DialH2(t, addrOf(l), nil)
	st := hc.Open(connectFields(addrOf(l), "/ws?s=early"), false)
	c := h2Frames(t, st)
	c.write(append(frame(true, 0, opText, []byte("early one")), frame(true, 0, opText, []byte("early two"))...))
	if status, rst, _ := answer(t, st); status != 200 {
		t.Fatalf("status %d rst %v, want 200", status, rst)
	}
	c.expectMessage(opText, []byte("early one"))
	c.expectMessage(opText, []byte("early two"))
	echoAndClose(c, "after")
	stopAndCount(t, l, s, map[string]int{"early": 1000})
}

// TestH2ResetMidFragmentedMessage: RST_STREAM after the first fragment of a
// message ends that socket with 1006 (no message delivered, OnClose once);
// the connection's other socket goes on.
func TestH2ResetMidFragmentedMessage(t *testing.T) {
	l, s := serveH2Sockets(t, nil, nil)
	hc := wstest.DialH2(t, addrOf(l), nil)
	ca, a := h2Raw(t, hc, "/ws?s=a", nil)
	cb, _ := h2Raw(t, hc, "/ws?s=b", nil)
	recv(t, s.opened)
	recv(t, s.opened)
	ca.send(false, 0, opText, []byte("first fragment "))
	if err := a.Reset(http2.ErrCodeCancel); err != nil {
		t.Fatal(err)
	}
	if ev := recv(t, s.get(t, "a").closes); ev.code != 1006 {
		t.Fatalf("OnClose(%d, %q) after RST_STREAM, want 1006", ev.code, ev.reason)
	}
	echoAndClose(cb, "still here")
	stopAndCount(t, l, s, map[string]int{"b": 1000})
	if n := len(s.get(t, "a").closes); n != 0 {
		t.Fatalf("OnClose ran %d more times for the reset socket", n)
	}
	if n := len(s.get(t, "a").texts); n != 0 {
		t.Fatalf("%d messages delivered from a reset stream", n)
	}
}

// TestH2WindowNeverOpens: a peer that never reads a stream, so never
// reopens its window, costs that socket's writer at most WriteTimeout; the
// socket then ends (RST_STREAM: a close frame cannot pass the window;
// OnClose 1006), and a socket on another stream of the same connection,
// which is read, echoes throughout.
func TestH2WindowNeverOpens(t *testing.T) {
	l, s := serveH2Sockets(t, &websocket.ServiceConfig{WriteTimeout: 300 * time.Millisecond,
		Compression: websocket.CompressionConfig{Disable: true}}, nil)
	hc := wstest.DialH2(t, addrOf(l), nil)
	cs, stalled := h2Raw(t, hc, "/ws?s=stalled", nil)
	co, _ := h2Raw(t, hc, "/ws?s=open", nil)
	big := string(repeatText(256 << 10)) // past the client's 64 KiB stream window
	cs.sendText(big)
	if got := recv(t, s.get(t, "stalled").texts); got != big {
		t.Fatalf("the stalled socket read %d bytes", len(got))
	}
	// The stalled socket's writer is blocked now; the other one echoes.
	for i := 0; i < 3; i++ {
		co.sendText("open window")
		co.expectMessage(opText, []byte("open window"))
	}
	if ev := recv(t, s.get(t, "stalled").closes); ev.code != 1006 {
		t.Fatalf("stalled socket: OnClose(%d, %q), want 1006", ev.code, ev.reason)
	}
	if ended, _ := stalled.WaitEnd(5 * time.Second); !ended {
		t.Fatal("the stalled stream was not ended")
	}
	echoAndClose(co, "after")
	stopAndCount(t, l, s, map[string]int{"open": 1000})
	if n := len(s.get(t, "stalled").closes); n != 0 {
		t.Fatalf("OnClose ran %d more times for the stalled socket", n)
	}
}

// TestH2GracefulStopMidMessage: a graceful stop while a client's message
// is half sent closes the socket with 1001 before the server's GOAWAY; the
// half message is not delivered and the stop completes once the close
// handshake is done.
func TestH2GracefulStopMidMessage(t *testing.T) {
	l, s := serveH2Sockets(t, nil, nil)
	hc := wstest.DialH2(t, addrOf(l), nil)
	c, _ := h2Raw(t, hc, "/ws?s=inflight", nil)
	recv(t, s.opened)
	c.send(false, 0, opText, []byte("half a message "))
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- l.GracefulStop(ctx)
	}()
	ev := c.next(5 * time.Second)
	if code, _ := closeCodeOf(t, ev); code != 1001 {
		t.Fatalf("close code %d, want 1001", code)
	}
	// The server says GOAWAY only once the connection's sockets ended, and
	// this one waits for the client's close echo.
	if g := hc.GoAway(); g != nil {
		t.Fatalf("GOAWAY (%v) before the socket's close handshake ended", g.ErrCode)
	}
	c.send(true, 0, opClose, closePayload(1001, "")) // the echo
	if ev := c.next(5 * time.Second); ev.op != -1 {
		t.Fatalf("got op %d after the close handshake, want the stream's end", ev.op)
	}
	if err := recv(t, stopped); err != nil {
		t.Fatalf("GracefulStop: %v", err)
	}
	if hc.WaitGoAway(5*time.Second) == nil {
		select {
		case <-hc.Done():
		default:
			t.Fatal("the connection got neither GOAWAY nor its end after the stop")
		}
	}
	if ev := recv(t, s.get(t, "inflight").closes); ev.code != 1001 {
		t.Fatalf("OnClose(%d, %q), want 1001", ev.code, ev.reason)
	}
	if n := len(s.get(t, "inflight").texts); n != 0 {
		t.Fatalf("%d half messages delivered", n)
	}
}

// TestH2ClientGoawayMidMessage: the client's GOAWAY and the end of its
// connection in the middle of a message (one socket between fragments, one
// in the middle of a frame) end every socket of the connection with 1006,
// OnClose once each.
func TestH2ClientGoawayMidMessage(t *testing.T) {
	l, s := serveH2Sockets(t, nil, nil)
	hc := wstest.DialH2(t, addrOf(l), nil)
	ca, _ := h2Raw(t, hc, "/ws?s=a", nil)
	cb, b := h2Raw(t, hc, "/ws?s=b", nil)
	recv(t, s.opened)
	recv(t, s.opened)
	ca.send(false, 0, opBinary, bytesN(1000))
	cb.write(frame(true, 0, opBinary, bytesN(70000))[:30000]) // half a frame
	if err := hc.SendGoAway(b.ID(), http2.ErrCodeNo); err != nil {
		t.Fatal(err)
	}
	hc.Close()
	for _, name := range []string{"a", "b"} {
		if ev := recv(t, s.get(t, name).closes); ev.code != 1006 {
			t.Errorf("socket %s: OnClose(%d, %q), want 1006", name, ev.code, ev.reason)
		}
	}
	stopAndCount(t, l, s, nil)
	for _, name := range []string{"a", "b"} {
		if n := len(s.get(t, name).closes); n != 0 {
			t.Errorf("socket %s: OnClose ran %d more times", name, n)
		}
	}
}

// TestH2ThousandStreams: 1000 CONNECTs sent at once on one connection are
// bounded by MaxConnections (each stream counts as a connection) and by
// the server's SETTINGS_MAX_CONCURRENT_STREAMS: MaxConnections less the
// carrying connection open, every other stream is answered 503 or refused with
// RST_STREAM (REFUSED_STREAM, or PROTOCOL_ERROR for a stream past the
// advertised limit), none stays unanswered, and every opened socket ends
// with one OnClose when the connection goes.
func TestH2ThousandStreams(t *testing.T) {
	const maxConns, streams = 64, 1000
	l, s := serveH2Sockets(t, nil, &websocket.ListenerConfig{MaxConnections: maxConns})
	hc := wstest.DialH2(t, addrOf(l), nil)
	sts := make([]*wstest.H2Stream, streams)
	for i := range sts {
		sts[i] = hc.Open(connectFields(addrOf(l), "/ws?s="+strconv.Itoa(i)), false)
	}
	counts := map[string]int{}
	var accepted []*wstest.H2Stream
	for _, st := range sts {
		status, rst, reset := answer(t, st)
		switch {
		case status == 200:
			accepted = append(accepted, st)
			counts["200"]++
		case status == http.StatusServiceUnavailable:
			counts["503"]++
		case reset && (rst == http2.ErrCodeRefusedStream || rst == http2.ErrCodeProtocol):
			counts[rst.String()]++
		default:
			t.Errorf("stream %d: status %d rst %v (%v), want 200, 503 or REFUSED_STREAM/PROTOCOL_ERROR", st.ID(), status, rst, reset)
		}
	}
	msl, _ := hc.Setting(http2.SettingMaxConcurrentStreams)
	t.Logf("1000 streams: %v; server SETTINGS_MAX_CONCURRENT_STREAMS %d", counts, msl)
	// The HTTP/2 connection holds one of the places; each accepted stream
	// keeps its own (they stay open), so exactly the rest open.
	if len(accepted) != maxConns-1 {
		t.Fatalf("%d sockets opened, want %d (MaxConnections %d, less the carrying connection)", len(accepted), maxConns-1, maxConns)
	}
	if got := len(s.opened); got != len(accepted) {
		t.Fatalf("%d OnOpen for %d 200s", got, len(accepted))
	}
	// The open sockets still echo.
	for _, st := range accepted[:3] {
		c := h2Frames(t, st)
		c.sendText("one of many")
		c.expectMessage(opText, []byte("one of many"))
	}
	hc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.GracefulStop(ctx); err != nil {
		t.Fatalf("GracefulStop: %v", err)
	}
	// Every socket that opened closed once (an upgrade refused with 503
	// after its UpgradeService ran never opened).
	for len(s.opened) > 0 {
		name := <-s.opened
		if n := len(s.get(t, name).closes); n != 1 {
			t.Errorf("socket %s: OnClose ran %d times, want once", name, n)
		}
	}
	if n := l.Len(); n != 0 {
		t.Fatalf("Len() = %d after the stop", n)
	}
}
