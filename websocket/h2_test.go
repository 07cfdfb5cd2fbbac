package websocket_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"golang.org/x/net/http2"

	"github.com/netkit-go/netkit/internal/obs/obstest"

	"github.com/netkit-go/netkit/internal/wstest"
	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/websocket"
)

// h2Listener starts a TLS Listener serving up at /ws and returns its
// address.
func h2Listener(t *testing.T, up websocket.UpgradeService, sc *websocket.ServiceConfig, cfg *websocket.ListenerConfig) (*websocket.Listener, string) {
	t.Helper()
	certs := netkittest.NewCertificates(t)
	if cfg == nil {
		cfg = &websocket.ListenerConfig{}
	}
	cfg.Host = "127.0.0.1"
	cfg.TLSConfig = &tls.Config{Certificates: []tls.Certificate{certs.Server}}
	l, err := websocket.NewListener(0, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Attach("/ws", up, sc); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.ImmediateStop() })
	return l, l.Addr().String()
}

func echoUpgrade() websocket.UpgradeService {
	return websocket.UpgradeFunc(func(*http.Request, http.Header) (websocket.Service, error) { return websocket.Echo, nil })
}

// h2MountServer serves h on a user's TLS server (httptest) given to
// ConfigureHTTP2, with tc as its TLS config (nil: httptest's), and returns
// its address; the server's own error log is discarded. At cleanup, stops
// run before the server closes.
func h2MountServer(t *testing.T, h http.Handler, tc *tls.Config, stops ...func() error) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Config.TLSConfig = tc
	if err := websocket.ConfigureHTTP2(srv.Config); err != nil {
		t.Fatal(err)
	}
	srv.TLS = srv.Config.TLSConfig
	srv.StartTLS()
	t.Cleanup(func() {
		for _, stop := range stops {
			stop()
		}
		srv.Close()
	})
	return srv.Listener.Addr().String()
}

// h1Raw opens a TLS connection to addr offering only http/1.1 in ALPN and
// sends the HTTP/1.1 Upgrade for path over it.
func h1Raw(t *testing.T, addr, path string) *rawClient {
	t.Helper()
	tc, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	return upgradeRaw(t, tc, addr, path, nil)
}

// h2Raw opens an extended CONNECT on hc and returns a raw WebSocket
// client over the stream (rawclient_test.go's frames and expectations).
func h2Raw(t *testing.T, hc *wstest.H2Conn, path string, header http.Header) (*rawClient, *wstest.H2Stream) {
	t.Helper()
	st, err := hc.Connect(path, header)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status() != http.StatusOK {
		t.Fatalf("CONNECT status %d, want 200", st.Status())
	}
	c := &rawClient{t: t, nc: st, br: bufio.NewReader(st)}
	if strings.Contains(st.Header().Get("Sec-WebSocket-Extensions"), "permessage-deflate") {
		c.deflate = true
	}
	return c, st
}

// TestH2ListenerEcho: a TLS Listener negotiates h2, advertises
// SETTINGS_ENABLE_CONNECT_PROTOCOL, and echoes text and binary messages on
// several WebSockets that are streams of one connection; the answer is 200
// without Sec-WebSocket-Accept.
func TestH2ListenerEcho(t *testing.T) {
	_, addr := h2Listener(t, echoUpgrade(), nil, nil)
	hc := wstest.DialH2(t, addr, nil)
	if v, ok := hc.Setting(http2.SettingEnableConnectProtocol); !ok || v != 1 {
		t.Fatalf("SETTINGS_ENABLE_CONNECT_PROTOCOL = %d, %v; want 1", v, ok)
	}
	var clients []*rawClient
	for range 3 {
		c, st := h2Raw(t, hc, "/ws", nil)
		if v := st.Header().Get("Sec-WebSocket-Accept"); v != "" {
			t.Errorf("Sec-WebSocket-Accept %q in an RFC 8441 answer", v)
		}
		clients = append(clients, c)
	}
	for i, c := range clients {
		msg := strings.Repeat("x", i+1)
		c.sendText(msg)
		c.expectMessage(opText, []byte(msg))
		c.sendBinary([]byte{byte(i), 1, 2})
		c.expectMessage(opBinary, []byte{byte(i), 1, 2})
	}
	for _, c := range clients {
		c.send(true, 0, opClose, closePayload(1000, "bye"))
		c.expectClose(1000)
		// A closed socket ends its stream with END_STREAM, not an abort: a
		// reset, if any, is NO_ERROR after it, or STREAM_CLOSED for the
		// extra close frame expectEOF sends after the server's END_STREAM.
		st := c.nc.(*wstest.H2Stream)
		if code, reset := st.ResetCode(); reset && code != http2.ErrCodeNo && code != http2.ErrCodeStreamClosed {
			t.Errorf("stream %d reset with %v after a clean close", st.ID(), code)
		}
	}
}

// TestH2OtherServersUnchanged: with netkit's websocket package linked and
// a Listener serving h2, an ordinary net/http HTTP/2 server of the same
// process advertises nothing and refuses :protocol.
func TestH2OtherServersUnchanged(t *testing.T) {
	_, addr := h2Listener(t, echoUpgrade(), nil, nil)
	if v, _ := wstest.DialH2(t, addr, nil).Setting(http2.SettingEnableConnectProtocol); v != 1 {
		t.Fatal("the Listener does not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL")
	}
	reached := make(chan struct{}, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached <- struct{}{} }))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	hc := wstest.DialH2(t, srv.Listener.Addr().String(), nil)
	if v, ok := hc.Setting(http2.SettingEnableConnectProtocol); ok && v != 0 {
		t.Fatalf("net/http's own HTTP/2 server advertises SETTINGS_ENABLE_CONNECT_PROTOCOL=%d", v)
	}
	st, err := hc.Connect("/ws", nil)
	if err == nil && st.Status() == http.StatusOK {
		t.Fatal("net/http's own HTTP/2 server accepted an extended CONNECT")
	}
	select {
	case <-reached:
		t.Fatal("the extended CONNECT reached net/http's handler")
	default:
	}
}

// TestH2HandlerMountEcho: a Handler mounted on a user's http.Server
// given to ConfigureHTTP2 accepts the extended CONNECT and echoes; the
// same path still takes the HTTP/1.1 Upgrade.
func TestH2HandlerMountEcho(t *testing.T) {
	h := websocket.NewHandler(echoUpgrade(), nil)
	addr := h2MountServer(t, h, nil, h.ImmediateStop)
	hc := wstest.DialH2(t, addr, nil)
	if v, _ := hc.Setting(http2.SettingEnableConnectProtocol); v != 1 {
		t.Fatalf("SETTINGS_ENABLE_CONNECT_PROTOCOL = %d; want 1", v)
	}
	c, _ := h2Raw(t, hc, "/ws", nil)
	c.sendText("over h2")
	c.expectMessage(opText, []byte("over h2"))
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	c.sendBinary(big)
	c.expectMessage(opBinary, big)

	// HTTP/1.1 Upgrade on the same server, same path.
	c1 := h1Raw(t, addr, "/ws")
	if c1.resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("HTTP/1.1 upgrade status %d", c1.resp.StatusCode)
	}
	c1.sendText("over h1")
	c1.expectMessage(opText, []byte("over h1"))
}

// TestH2SameListenerHTTP11: the TLS Listener that serves h2 still takes
// the HTTP/1.1 Upgrade on the same port and path (ALPN http/1.1).
func TestH2SameListenerHTTP11(t *testing.T) {
	_, addr := h2Listener(t, echoUpgrade(), nil, nil)
	c := h1Raw(t, addr, "/ws")
	if p := c.nc.(*tls.Conn).ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Fatalf("ALPN %q, want http/1.1", p)
	}
	if c.resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", c.resp.StatusCode)
	}
	c.sendText("h1")
	c.expectMessage(opText, []byte("h1"))
}

// TestH2Refusals: RFC 8441 §4–5 refusals, each on its own stream of one
// connection, which stays usable.
func TestH2Refusals(t *testing.T) {
	_, addr := h2Listener(t, echoUpgrade(), &websocket.ServiceConfig{SubProtocols: []string{"chat"}}, nil)
	hc := wstest.DialH2(t, addr, nil)
	authority := addr
	for _, tc := range []struct {
		name    string
		fields  [][2]string
		status  int
		version bool
	}{
		{"version 12", [][2]string{{":method", "CONNECT"}, {":protocol", "websocket"}, {":scheme", "https"}, {":path", "/ws"}, {":authority", authority}, {"sec-websocket-version", "12"}, {"sec-websocket-protocol", "chat"}}, 400, true},
		{"no version", [][2]string{{":method", "CONNECT"}, {":protocol", "websocket"}, {":scheme", "https"}, {":path", "/ws"}, {":authority", authority}, {"sec-websocket-protocol", "chat"}}, 400, true},
		{"other :protocol", [][2]string{{":method", "CONNECT"}, {":protocol", "h3-tunnel"}, {":scheme", "https"}, {":path", "/ws"}, {":authority", authority}, {"sec-websocket-version", "13"}}, 501, false},
		{"CONNECT without :protocol", [][2]string{{":method", "CONNECT"}, {":authority", authority}, {"sec-websocket-version", "13"}}, 400, false},
		{"unknown path", [][2]string{{":method", "CONNECT"}, {":protocol", "websocket"}, {":scheme", "https"}, {":path", "/nope"}, {":authority", authority}, {"sec-websocket-version", "13"}}, 404, false},
		{"no common subprotocol", [][2]string{{":method", "CONNECT"}, {":protocol", "websocket"}, {":scheme", "https"}, {":path", "/ws"}, {":authority", authority}, {"sec-websocket-version", "13"}, {"sec-websocket-protocol", "mqtt"}}, 400, false},
	} {
		st := hc.Open(tc.fields, false)
		if err := st.WaitResponse(5 * time.Second); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if st.Status() != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, st.Status(), tc.status)
		}
		if got := st.Header().Get("Sec-WebSocket-Version"); tc.version && got != "13" {
			t.Errorf("%s: Sec-WebSocket-Version %q, want 13", tc.name, got)
		}
		if hc.GoAway() != nil {
			t.Fatalf("%s: the refusal sent GOAWAY (Connection: close leaked into HTTP/2)", tc.name)
		}
	}
	// A plain CONNECT with :path is malformed HTTP/2: x/net resets it.
	st := hc.Open([][2]string{{":method", "CONNECT"}, {":scheme", "https"}, {":path", "/ws"}, {":authority", authority}}, false)
	if ended, reset := st.WaitEnd(5 * time.Second); !ended || !reset {
		t.Errorf("CONNECT with :path and no :protocol: ended %v reset %v, want a reset", ended, reset)
	}
	c, st2 := h2Raw(t, hc, "/ws", http.Header{"Sec-Websocket-Protocol": {"mqtt, chat"}})
	if got := st2.Header().Get("Sec-WebSocket-Protocol"); got != "chat" {
		t.Fatalf("subprotocol %q, want chat", got)
	}
	c.sendText("still fine")
	c.expectMessage(opText, []byte("still fine"))
}

// TestH2Deflate: permessage-deflate is negotiated over h2 as over the
// Upgrade, on several streams of one connection, each with its own
// context.
func TestH2Deflate(t *testing.T) {
	_, addr := h2Listener(t, echoUpgrade(), nil, nil)
	hc := wstest.DialH2(t, addr, nil)
	for i := range 2 {
		c, st := h2Raw(t, hc, "/ws", http.Header{"Sec-Websocket-Extensions": {"permessage-deflate"}})
		if !c.deflate {
			t.Fatalf("stream %d: no permessage-deflate in %q", st.ID(), st.Header().Get("Sec-WebSocket-Extensions"))
		}
		msg := bytes.Repeat([]byte("compress me "), 1000+i)
		c.send(true, rsv1, opText, c.deflatePayload(msg, false))
		ev := c.expectMessage(opText, msg)
		if !ev.comp {
			t.Errorf("stream %d: the echo was not compressed", st.ID())
		}
	}
}

// TestH2PeerReset: a stream reset by the peer ends its socket with 1006,
// OnClose runs once, and the connection's other socket goes on.
func TestH2PeerReset(t *testing.T) {
	rec := newRecorder()
	f := rec.funcs()
	f.OnTextMessage = func(c *websocket.Conn, text []byte) error { return c.WriteTextMessage(context.Background(), text) }
	l, addr := h2Listener(t, websocket.Static(f), nil, nil)
	hc := wstest.DialH2(t, addr, nil)
	a, sta := h2Raw(t, hc, "/ws", nil)
	recv(t, rec.caller)
	b, _ := h2Raw(t, hc, "/ws", nil)
	recv(t, rec.caller)
	a.sendText("a")
	a.expectMessage(opText, []byte("a"))
	// Half a fragmented message, then the reset.
	a.send(false, 0, opText, []byte("half"))
	sta.Reset(http2.ErrCodeCancel)
	if ev := recv(t, rec.closes); ev.code != 1006 {
		t.Fatalf("OnClose code %d, want 1006", ev.code)
	}
	b.sendText("b")
	b.expectMessage(opText, []byte("b"))
	// The connection and b (the reset one leaves after its OnClose).
	waitFor(t, "Len 2 after the reset", func() bool { return l.Len() == 2 })
	b.send(true, 0, opClose, closePayload(1000, ""))
	b.expectClose(1000)
	if ev := recv(t, rec.closes); ev.code != 1000 {
		t.Fatalf("b's OnClose code %d, want 1000", ev.code)
	}
	select {
	case ev := <-rec.closes:
		t.Fatalf("a third OnClose (%d): OnClose ran twice", ev.code)
	default:
	}
}

// TestH2DropResetsStream: a socket dropped without a close handshake
// (its Handler's ImmediateStop) resets its stream only: the socket of
// another Handler on the same HTTP/2 connection goes on.
func TestH2DropResetsStream(t *testing.T) {
	ha := websocket.NewHandler(echoUpgrade(), nil)
	hb := websocket.NewHandler(echoUpgrade(), nil)
	mux := http.NewServeMux()
	mux.Handle("/a", ha)
	mux.Handle("/b", hb)
	hc := wstest.DialH2(t, h2MountServer(t, mux, nil, ha.ImmediateStop, hb.ImmediateStop), nil)
	a, sta := h2Raw(t, hc, "/a", nil)
	b, _ := h2Raw(t, hc, "/b", nil)
	a.sendText("a")
	a.expectMessage(opText, []byte("a"))
	ha.ImmediateStop()
	expectDropped(t, hc, sta, b)
}

// expectDropped checks that dropped's stream was reset with CANCEL (RFC
// 8441 §5) and that other, a socket on the same connection, still echoes
// with no GOAWAY.
func expectDropped(t *testing.T, hc *wstest.H2Conn, dropped *wstest.H2Stream, other *rawClient) {
	t.Helper()
	ended, reset := dropped.WaitEnd(5 * time.Second)
	if !ended || !reset {
		t.Fatalf("dropped socket's stream: ended %v, reset %v; want RST_STREAM", ended, reset)
	}
	if code, _ := dropped.ResetCode(); code != http2.ErrCodeCancel {
		t.Fatalf("dropped socket's RST_STREAM code %v, want CANCEL (RFC 8441 §5)", code)
	}
	other.sendText("b")
	other.expectMessage(opText, []byte("b"))
	if hc.GoAway() != nil {
		t.Fatal("GOAWAY after one stream's drop")
	}
}

// TestH2ListenerDropResetsStreamWithCancel: on a Listener's own HTTP/2
// connection, a socket its service drops (CloseNow) resets its stream
// with CANCEL (RFC 8441 §5), and the other socket of the connection goes
// on.
func TestH2ListenerDropResetsStreamWithCancel(t *testing.T) {
	svc := &websocket.ServiceFuncs{OnTextMessage: func(c *websocket.Conn, p []byte) error {
		if string(p) == "drop" {
			return c.CloseNow()
		}
		return c.WriteTextMessage(context.Background(), p)
	}}
	_, addr := h2Listener(t, websocket.Static(svc), nil, nil)
	hc := wstest.DialH2(t, addr, nil)
	a, sta := h2Raw(t, hc, "/ws", nil)
	b, _ := h2Raw(t, hc, "/ws", nil)
	a.sendText("drop")
	expectDropped(t, hc, sta, b)
}

// TestH2StalledStream: a peer that stops reading one stream (its window
// stays closed) blocks only that socket's writes; the other socket of
// the connection echoes meanwhile, and the stalled one catches up when
// read.
func TestH2StalledStream(t *testing.T) {
	_, addr := h2Listener(t, echoUpgrade(), nil, nil)
	hc := wstest.DialH2(t, addr, nil)
	stalled, _ := h2Raw(t, hc, "/ws", nil)
	other, _ := h2Raw(t, hc, "/ws", nil)
	big := bytes.Repeat([]byte{7}, 256<<10) // 4 × the client's 64 KiB stream window
	for range 3 {
		stalled.sendBinary(big) // echoed into a window that is not reopened
	}
	for i := range 20 {
		msg := []byte{byte(i)}
		other.sendBinary(msg)
		other.expectMessage(opBinary, msg)
	}
	for range 3 {
		stalled.expectMessage(opBinary, big)
	}
}

// TestH2GracefulStop: a graceful stop sends close 1001 on every stream
// first; GOAWAY follows once the sockets have ended, then the stop
// returns.
func TestH2GracefulStop(t *testing.T) {
	l, addr := h2Listener(t, echoUpgrade(), nil, nil)
	hc := wstest.DialH2(t, addr, nil)
	a, _ := h2Raw(t, hc, "/ws", nil)
	b, _ := h2Raw(t, hc, "/ws", nil)
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- l.GracefulStop(ctx)
	}()
	for _, c := range []*rawClient{a, b} {
		ev := c.next(5 * time.Second)
		if code, _ := closeCodeOf(t, ev); code != 1001 {
			t.Fatalf("close code %d, want 1001", code)
		}
		if hc.GoAway() != nil {
			t.Fatal("GOAWAY before the sockets' close handshakes")
		}
	}
	a.expectEOF()
	b.expectEOF()
	ga := hc.WaitGoAway(5 * time.Second)
	if ga == nil || ga.ErrCode != http2.ErrCodeNo {
		t.Fatalf("GOAWAY %v after the sockets ended, want NO_ERROR", ga)
	}
	hc.Close() // a client closes after GOAWAY with no streams
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("GracefulStop: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("GracefulStop did not return")
	}
}

// TestH2MaxConnections: streams count against MaxConnections with the
// connection that carries them; at the cap a CONNECT gets 503.
func TestH2MaxConnections(t *testing.T) {
	l, addr := h2Listener(t, echoUpgrade(), nil, &websocket.ListenerConfig{MaxConnections: 3})
	hc := wstest.DialH2(t, addr, nil)
	h2Raw(t, hc, "/ws", nil)
	h2Raw(t, hc, "/ws", nil)
	if n := l.Len(); n != 3 {
		t.Fatalf("Len %d, want 3 (the connection and two streams)", n)
	}
	st, err := hc.Connect("/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status() != http.StatusServiceUnavailable {
		t.Fatalf("third stream: status %d, want 503", st.Status())
	}
}

// TestH2Metrics: the connection instruments carry
// network.protocol.version: "2" for the HTTP/2 connection and each of its
// WebSocket streams, "1.1" for an HTTP/1.1 one; an accepted CONNECT is
// counted as an upgrade answered with 200.
func TestH2Metrics(t *testing.T) {
	m := obstest.NewMetrics(t)
	l, addr := h2Listener(t, echoUpgrade(), nil, &websocket.ListenerConfig{MeterProvider: m.Provider})
	hc := wstest.DialH2(t, addr, nil)
	a, _ := h2Raw(t, hc, "/ws", nil)
	b, _ := h2Raw(t, hc, "/ws", nil)
	c := h1Raw(t, addr, "/ws")
	for _, rc := range []*rawClient{a, b, c} {
		rc.sendText("m")
		rc.expectMessage(opText, []byte("m"))
	}
	// With metrics on too, the streams are the Listener's connections.
	if n := l.Len(); n != 4 {
		t.Fatalf("Len %d, want 4 (the h2 connection, its two streams, the HTTP/1.1 socket)", n)
	}
	v2, v11 := attribute.String("network.protocol.version", "2"), attribute.String("network.protocol.version", "1.1")
	check := func(s obstest.Snapshot, name string, want int64, kv ...attribute.KeyValue) {
		t.Helper()
		if got := s.Sum(name, kv...); got != want {
			t.Errorf("%s%v = %d, want %d", name, kv, got, want)
		}
	}
	s := m.Collect(t)
	check(s, "netkit.active_connections", 3, v2)
	check(s, "netkit.upgraded_connections", 2, v2)
	check(s, "netkit.active_connections", 1, v11)
	check(s, "netkit.upgraded_connections", 1, v11)
	check(s, "netkit.websocket.upgrades", 2, attribute.Int("http.response.status_code", 200))
	check(s, "netkit.websocket.upgrades", 1, attribute.Int("http.response.status_code", 101))
	for _, rc := range []*rawClient{a, b, c} {
		rc.send(true, 0, opClose, closePayload(1000, ""))
		rc.expectClose(1000)
	}
	hc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.GracefulStop(ctx); err != nil {
		t.Fatal(err)
	}
	s = m.Collect(t)
	check(s, "netkit.active_connections", 0)
	check(s, "netkit.connection.closed", 3, v2)
	check(s, "netkit.connection.closed", 1, v11)
}

// TestH2KeepaliveAndIdle: the timers of a socket (keepalive pings, the
// idle timeout) run over a stream: the engine's read-deadline wake-ups do
// not break it.
func TestH2KeepaliveAndIdle(t *testing.T) {
	idle := make(chan struct{}, 4)
	svc := &websocket.ServiceFuncs{
		OnTextMessage: func(c *websocket.Conn, text []byte) error { return c.WriteTextMessage(context.Background(), text) },
		OnIdleTimeout: func(*websocket.Conn) error { idle <- struct{}{}; return nil },
	}
	_, addr := h2Listener(t, websocket.Static(svc), &websocket.ServiceConfig{PingInterval: 50 * time.Millisecond, PongTimeout: 5 * time.Second, IdleTimeout: 80 * time.Millisecond}, nil)
	hc := wstest.DialH2(t, addr, nil)
	c, _ := h2Raw(t, hc, "/ws", nil)
	for i := range 3 {
		ev := c.next(5 * time.Second)
		if ev.op != opPing {
			t.Fatalf("ping %d: got op %d (%v)", i, ev.op, ev.readErr)
		}
		c.send(true, 0, opPong, ev.data)
	}
	recv(t, idle)
	c.sendText("alive")
	for {
		ev := c.next(5 * time.Second)
		if ev.op == opPing {
			c.send(true, 0, opPong, ev.data)
			continue
		}
		if ev.op != opText || string(ev.data) != "alive" {
			t.Fatalf("got op %d %q (%v), want the echo", ev.op, ev.data, ev.readErr)
		}
		break
	}
}

// TestH2WriteTimeoutStalledWindow: a peer that never reopens a stream's
// window costs that socket its WriteTimeout: the blocked write fails, the
// stream is reset, OnClose gets 1006; the connection's other socket is
// unaffected.
func TestH2WriteTimeoutStalledWindow(t *testing.T) {
	rec := newRecorder()
	f := rec.funcs()
	f.OnBinaryMessage = func(c *websocket.Conn, data []byte) error {
		return c.WriteBinaryMessage(context.Background(), data)
	}
	_, addr := h2Listener(t, websocket.Static(f), &websocket.ServiceConfig{WriteTimeout: 200 * time.Millisecond}, nil)
	hc := wstest.DialH2(t, addr, nil)
	stalled, st := h2Raw(t, hc, "/ws", nil)
	recv(t, rec.caller)
	other, _ := h2Raw(t, hc, "/ws", nil)
	recv(t, rec.caller)
	stalled.sendBinary(bytes.Repeat([]byte{1}, 256<<10)) // 4 × the window, never read
	if ev := recv(t, rec.closes); ev.code != 1006 {
		t.Fatalf("OnClose %d, want 1006", ev.code)
	}
	if ended, reset := st.WaitEnd(5 * time.Second); !ended || !reset {
		t.Fatalf("stalled stream: ended %v reset %v, want a reset", ended, reset)
	}
	other.sendBinary([]byte("ok"))
	other.expectMessage(opBinary, []byte("ok"))
}

// TestH2HandlerGracefulStop: a mounted Handler's GracefulStop closes its
// HTTP/2 sockets with 1001 over their streams; the user's server, which
// owns the connection, sends no GOAWAY for it.
func TestH2HandlerGracefulStop(t *testing.T) {
	h := websocket.NewHandler(echoUpgrade(), nil)
	hc := wstest.DialH2(t, h2MountServer(t, h, nil), nil)
	c, _ := h2Raw(t, hc, "/ws", nil)
	// Open (after the 200) has run once an echo came back: a stop before
	// it refuses the socket, as over HTTP/1.1.
	c.sendText("opened")
	c.expectMessage(opText, []byte("opened"))
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- h.GracefulStop(ctx)
	}()
	if code, _ := closeCodeOf(t, c.next(5*time.Second)); code != 1001 {
		t.Fatalf("close %d, want 1001", code)
	}
	c.expectEOF()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if h.Len() != 0 {
		t.Fatalf("Len %d after the stop", h.Len())
	}
	st, err := hc.Connect("/ws", nil)
	if err != nil || st.Status() != http.StatusServiceUnavailable {
		t.Fatalf("CONNECT after the stop: %d %v, want 503", st.Status(), err)
	}
}

// TestH2AcceptRefuses: Accept (a pulled Conn that outlives its handler)
// answers an HTTP/2 CONNECT with 501, without a GOAWAY for the connection.
func TestH2AcceptRefuses(t *testing.T) {
	errs := make(chan error, 1)
	addr := h2MountServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := websocket.Accept(w, r, nil)
		errs <- err
	}), nil)
	hc := wstest.DialH2(t, addr, nil)
	st, err := hc.Connect("/ws", nil)
	if err != nil || st.Status() != http.StatusNotImplemented {
		t.Fatalf("status %d %v, want 501", st.Status(), err)
	}
	var ie *websocket.InvalidHandshakeError
	if err := recv(t, errs); !errors.As(err, &ie) || ie.Status != http.StatusNotImplemented {
		t.Fatalf("Accept: %v", err)
	}
	if hc.GoAway() != nil {
		t.Fatal("GOAWAY after Accept's refusal")
	}
}
