package websocket_test

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/netkit-go/netkit/websocket"
)

// Bad input over HTTP/2 (RFC 8441), sent with the raw client of
// h2raw_test.go. Each case must get a clear status, RST_STREAM code or
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
	c := dialH2Raw(t, addrOf(l))
	if v := c.serverSettings[http2.SettingEnableConnectProtocol]; v != 1 {
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
	set := func(fields [][2]string, name, value string) [][2]string {
		out := without(fields, name)
		return append(out, [2]string{name, value})
	}
	base := c.connectFields("/ws?s=bad")

	t.Run("no :protocol, with :path and :scheme", func(t *testing.T) {
		// A classic CONNECT must carry neither (RFC 9113 §8.5): malformed.
		st := c.response(c.open(without(base, ":protocol")))
		if st.rst == nil || *st.rst != http2.ErrCodeProtocol {
			t.Fatalf("status %d rst %v, want RST_STREAM PROTOCOL_ERROR", st.status, st.rst)
		}
	})
	t.Run("classic CONNECT to an authority", func(t *testing.T) {
		st := c.response(c.open(without(base, ":protocol", ":path", ":scheme", "sec-websocket-version")))
		if st.status < 400 || st.status > 499 {
			t.Fatalf("status %d rst %v, want a 4xx refusal", st.status, st.rst)
		}
	})
	t.Run(":protocol other than websocket", func(t *testing.T) {
		st := c.response(c.open(set(base, ":protocol", "chat")))
		if st.status < 400 || st.status > 499 {
			t.Fatalf("status %d rst %v, want a 4xx refusal", st.status, st.rst)
		}
	})
	t.Run("version 12", func(t *testing.T) {
		st := c.response(c.open(set(base, "sec-websocket-version", "12")))
		if st.status != http.StatusBadRequest {
			t.Fatalf("status %d rst %v, want 400", st.status, st.rst)
		}
		if v := st.header["sec-websocket-version"]; len(v) != 1 || v[0] != "13" {
			t.Fatalf("Sec-WebSocket-Version %q, want 13", v)
		}
	})
	t.Run("no version", func(t *testing.T) {
		st := c.response(c.open(without(base, "sec-websocket-version")))
		if st.status != http.StatusBadRequest {
			t.Fatalf("status %d rst %v, want 400", st.status, st.rst)
		}
	})
	if len(s.opened) != 0 {
		t.Fatalf("%d refused requests opened a socket", len(s.opened))
	}
	good := c.connect("/ws?s=good")
	if v := c.streams[good].header["sec-websocket-accept"]; v != nil {
		t.Fatalf("Sec-WebSocket-Accept %q on an RFC 8441 answer (§5: none)", v)
	}
	c.sendWS(good, frame(true, 0, opText, []byte("after the refusals")))
	c.expectMessage(good, opText, []byte("after the refusals"))
	c.sendWS(good, frame(true, 0, opClose, closePayload(1000, "")))
	c.expectClose(good, 1000)
	stopAndCount(t, l, s, map[string]int{"good": 1000})
}

// TestH2DataBeforeResponse: WebSocket frames sent right behind the CONNECT,
// before the 200 was read, are the socket's first messages (as bytes right
// behind an HTTP/1.1 upgrade request are): HTTP/2 buffers them within the
// stream's window until the handshake is done.
func TestH2DataBeforeResponse(t *testing.T) {
	l, s := serveH2Sockets(t, nil, nil)
	c := dialH2Raw(t, addrOf(l))
	id := c.open(c.connectFields("/ws?s=early"))
	c.sendWS(id, append(frame(true, 0, opText, []byte("early one")), frame(true, 0, opText, []byte("early two"))...))
	if st := c.response(id); st.status != 200 {
		t.Fatalf("status %d rst %v, want 200", st.status, st.rst)
	}
	c.expectMessage(id, opText, []byte("early one"))
	c.expectMessage(id, opText, []byte("early two"))
	c.sendWS(id, frame(true, 0, opText, []byte("after")))
	c.expectMessage(id, opText, []byte("after"))
	c.sendWS(id, frame(true, 0, opClose, closePayload(1000, "")))
	c.expectClose(id, 1000)
	stopAndCount(t, l, s, map[string]int{"early": 1000})
}

// TestH2ResetMidFragmentedMessage: RST_STREAM after the first fragment of a
// message ends that socket with 1006 (no message delivered, OnClose once);
// the connection's other socket goes on.
func TestH2ResetMidFragmentedMessage(t *testing.T) {
	l, s := serveH2Sockets(t, nil, nil)
	c := dialH2Raw(t, addrOf(l))
	a, b := c.connect("/ws?s=a"), c.connect("/ws?s=b")
	recv(t, s.opened)
	recv(t, s.opened)
	c.sendWS(a, frame(false, 0, opText, []byte("first fragment ")))
	c.reset(a, http2.ErrCodeCancel)
	if ev := recv(t, s.get(t, "a").closes); ev.code != 1006 {
		t.Fatalf("OnClose(%d, %q) after RST_STREAM, want 1006", ev.code, ev.reason)
	}
	if n := len(s.get(t, "a").texts); n != 0 {
		t.Fatalf("%d messages delivered from a reset stream", n)
	}
	c.sendWS(b, frame(true, 0, opText, []byte("still here")))
	c.expectMessage(b, opText, []byte("still here"))
	c.sendWS(b, frame(true, 0, opClose, closePayload(1000, "")))
	c.expectClose(b, 1000)
	// OnClose ran once for a: the recv above took it, so none is left.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.GracefulStop(ctx); err != nil {
		t.Fatalf("GracefulStop: %v", err)
	}
	if n := len(s.get(t, "a").closes); n != 0 {
		t.Fatalf("OnClose ran %d more times for the reset socket", n)
	}
	if n := len(s.get(t, "b").closes); n != 1 {
		t.Fatalf("OnClose ran %d times for the other socket, want once", n)
	}
	if n := l.Len(); n != 0 {
		t.Fatalf("Len() = %d after the stop", n)
	}
}

// TestH2WindowNeverOpens: a peer that never grants a stream any window
// (SETTINGS_INITIAL_WINDOW_SIZE 0 and no WINDOW_UPDATE) costs that
// socket's writer at most WriteTimeout; the socket then ends (it cannot
// carry a close frame: RST_STREAM, OnClose 1006), and a socket on another
// stream of the same connection, whose window is open, echoes throughout.
func TestH2WindowNeverOpens(t *testing.T) {
	l, s := serveH2Sockets(t, &websocket.ServiceConfig{WriteTimeout: 300 * time.Millisecond,
		Compression: websocket.CompressionConfig{Disable: true}}, nil)
	c := dialH2Raw(t, addrOf(l), http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	stalled, open := c.connect("/ws?s=stalled"), c.connect("/ws?s=open")
	c.stalled[stalled] = true
	c.writeDeadline()
	if err := c.fr.WriteWindowUpdate(open, 1<<20); err != nil {
		t.Fatal(err)
	}
	c.sendWS(stalled, frame(true, 0, opText, []byte("echo me if you can")))
	if got := recv(t, s.get(t, "stalled").texts); got != "echo me if you can" {
		t.Fatalf("stalled socket read %q", got)
	}
	// The stalled socket's writer is blocked now; the other one echoes.
	for i := 0; i < 3; i++ {
		c.sendWS(open, frame(true, 0, opText, []byte("open window")))
		c.expectMessage(open, opText, []byte("open window"))
	}
	ev := recv(t, s.get(t, "stalled").closes)
	if ev.code != 1006 {
		t.Fatalf("stalled socket: OnClose(%d, %q), want 1006", ev.code, ev.reason)
	}
	st := c.streams[stalled]
	if !c.until(5*time.Second, func() bool { return st.rst != nil || st.ended }) {
		t.Fatal("the stalled stream was not ended")
	}
	if st.dataLen != 0 {
		t.Fatalf("%d bytes arrived on a stream with no window", st.dataLen)
	}
	c.sendWS(open, frame(true, 0, opText, []byte("after")))
	c.expectMessage(open, opText, []byte("after"))
	c.sendWS(open, frame(true, 0, opClose, closePayload(1000, "")))
	c.expectClose(open, 1000)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.GracefulStop(ctx); err != nil {
		t.Fatalf("GracefulStop: %v", err)
	}
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
	c := dialH2Raw(t, addrOf(l))
	id := c.connect("/ws?s=inflight")
	recv(t, s.opened)
	c.sendWS(id, frame(false, 0, opText, []byte("half a message ")))
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- l.GracefulStop(ctx)
	}()
	f, ok := c.nextFrame(id, 5*time.Second)
	if !ok || f.op != opClose {
		t.Fatalf("got %+v (ok %v), want a close frame", f, ok)
	}
	if c.goaway != nil {
		t.Fatalf("GOAWAY (%v) arrived before the 1001 close frame", c.goaway.ErrCode)
	}
	if code := int(f.payload[0])<<8 | int(f.payload[1]); code != 1001 {
		t.Fatalf("close code %d, want 1001", code)
	}
	c.writeDeadline()
	c.fr.WriteData(id, true, frame(true, 0, opClose, closePayload(1001, "")))
	if err := recv(t, stopped); err != nil {
		t.Fatalf("GracefulStop: %v", err)
	}
	if !c.until(5*time.Second, func() bool { return c.goaway != nil || c.eof != nil }) {
		t.Fatal("the connection got neither GOAWAY nor its end after the stop")
	}
	if ev := recv(t, s.get(t, "inflight").closes); ev.code != 1001 {
		t.Fatalf("OnClose(%d, %q), want 1001", ev.code, ev.reason)
	}
	if n := len(s.get(t, "inflight").texts); n != 0 {
		t.Fatalf("%d half messages delivered", n)
	}
}

// TestH2ClientGoawayMidMessage: the client's GOAWAY and the end of its
// connection in the middle of a message end every socket of the
// connection with 1006, OnClose once each.
func TestH2ClientGoawayMidMessage(t *testing.T) {
	l, s := serveH2Sockets(t, nil, nil)
	c := dialH2Raw(t, addrOf(l))
	a, b := c.connect("/ws?s=a"), c.connect("/ws?s=b")
	recv(t, s.opened)
	recv(t, s.opened)
	c.sendWS(a, frame(false, 0, opBinary, bytesN(1000)))
	c.sendWS(b, frame(true, 0, opBinary, bytesN(70000))[:30000]) // half a frame
	c.writeDeadline()
	if err := c.fr.WriteGoAway(b, http2.ErrCodeNo, nil); err != nil {
		t.Fatal(err)
	}
	c.tc.Close()
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
// the server's SETTINGS_MAX_CONCURRENT_STREAMS: at most MaxConnections
// sockets open, every other stream is answered 503 or refused with
// RST_STREAM (REFUSED_STREAM, or PROTOCOL_ERROR for a stream past the
// advertised limit), none stays unanswered, and every opened socket ends
// with one OnClose when the connection goes.
func TestH2ThousandStreams(t *testing.T) {
	const maxConns, streams = 64, 1000
	l, s := serveH2Sockets(t, nil, &websocket.ListenerConfig{MaxConnections: maxConns})
	c := dialH2Raw(t, addrOf(l))
	ids := make([]uint32, streams)
	for i := range ids {
		ids[i] = c.open(c.connectFields("/ws?s=" + strconv.Itoa(i)))
	}
	answered := func() bool {
		for _, id := range ids {
			if st := c.streams[id]; st.status == 0 && st.rst == nil {
				return false
			}
		}
		return true
	}
	if !c.until(30*time.Second, answered) {
		t.Fatalf("not every stream was answered (conn %v)", c.eof)
	}
	counts := map[string]int{}
	var accepted []uint32
	for _, id := range ids {
		st := c.streams[id]
		switch {
		case st.status == 200:
			accepted = append(accepted, id)
			counts["200"]++
		case st.status == http.StatusServiceUnavailable:
			counts["503"]++
		case st.rst != nil && (*st.rst == http2.ErrCodeRefusedStream || *st.rst == http2.ErrCodeProtocol):
			counts[st.rst.String()]++
		default:
			t.Errorf("stream %d: status %d rst %v, want 200, 503 or REFUSED_STREAM/PROTOCOL_ERROR", id, st.status, st.rst)
		}
	}
	t.Logf("1000 streams: %v; server SETTINGS_MAX_CONCURRENT_STREAMS %d", counts,
		c.serverSettings[http2.SettingMaxConcurrentStreams])
	if len(accepted) == 0 || len(accepted) > maxConns {
		t.Fatalf("%d sockets opened, want 1..%d", len(accepted), maxConns)
	}
	if got := len(s.opened); got != len(accepted) {
		t.Fatalf("%d OnOpen for %d 200s", got, len(accepted))
	}
	// The open sockets still echo.
	for _, id := range accepted[:3] {
		c.sendWS(id, frame(true, 0, opText, []byte("one of many")))
		c.expectMessage(id, opText, []byte("one of many"))
	}
	c.tc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.GracefulStop(ctx); err != nil {
		t.Fatalf("GracefulStop: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, rec := range s.byName {
		if n := len(rec.closes); n != 1 {
			t.Errorf("socket %s: OnClose ran %d times, want once", name, n)
		}
	}
	if n := l.Len(); n != 0 {
		t.Fatalf("Len() = %d after the stop", n)
	}
}
