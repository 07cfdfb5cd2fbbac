package websocket_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/websocket"
)

// h2ListenerClient starts a TLS Listener (h2 offered, RFC 8441 advertised)
// serving up at /ws, and returns its wss URL and a client configuration
// that trusts it and dials over HTTP/2 with a pool of its own.
func h2ListenerClient(t *testing.T, up websocket.UpgradeService, sc *websocket.ServiceConfig) (*websocket.Listener, string, *websocket.ClientConfig) {
	t.Helper()
	srvTLS, cliTLS := netkittest.TLSPair(t)
	var s websocket.ServiceConfig
	if sc != nil {
		s = *sc
	}
	if s.Logger == nil {
		s.Logger = quietLogger
	}
	l := serve(t, "/ws", up, &s, &websocket.ListenerConfig{TLSConfig: srvTLS})
	cfg := &websocket.ClientConfig{HTTP2: true, HTTP2Pool: &websocket.HTTP2Pool{}, TLSConfig: cliTLS, Proxy: websocket.NoProxy, Logger: quietLogger}
	return l, "wss://" + addrOf(l) + "/ws", cfg
}

// TestH2ClientListener: against netkit's own Listener, the client's
// extended CONNECT runs the same negotiation as an Upgrade (subprotocol,
// permessage-deflate), the request carries headers, cookies and auth, the
// server's Conn is a stream of an h2 connection, and text, binary, 1 MiB
// and compressed messages echo; the close handshake is 1000 on both sides.
func TestH2ClientListener(t *testing.T) {
	type seen struct {
		proto, method, cookie, custom, auth, alpn string
	}
	seenCh := make(chan seen, 1)
	closed := make(chan int, 1)
	up := websocket.UpgradeFunc(func(r *http.Request, h http.Header) (websocket.Service, error) {
		u, p, _ := r.BasicAuth()
		seenCh <- seen{proto: r.Proto, method: r.Method, cookie: r.Header.Get("Cookie"), custom: r.Header.Get("X-Custom"), auth: u + ":" + p}
		return &websocket.ServiceFuncs{
			OnOpen: func(c *websocket.Conn) error {
				if st := c.TLS(); st == nil || st.NegotiatedProtocol != "h2" {
					t.Errorf("server Conn TLS %v, want ALPN h2", st)
				}
				return nil
			},
			OnTextMessage:   func(c *websocket.Conn, text []byte) error { return c.WriteTextMessage(c.Context(), text) },
			OnBinaryMessage: func(c *websocket.Conn, data []byte) error { return c.WriteBinaryMessage(c.Context(), data) },
			OnClose:         func(c *websocket.Conn, code int, reason string) { closed <- code },
		}, nil
	})
	_, url, cfg := h2ListenerClient(t, up, &websocket.ServiceConfig{SubProtocols: []string{"chat"}})
	cfg.SubProtocols = []string{"other", "chat"}
	cfg.Cookies = []*http.Cookie{{Name: "sid", Value: "42"}}
	cfg.CustomHeaders = http.Header{"X-Custom": {"yes"}}
	cfg.Auth = websocket.BasicAuth{Username: "u", Password: "p"}
	cfg.Compression = websocket.CompressionConfig{Threshold: -1}
	ctx := testCtx(t)
	cl, err := websocket.Dial(ctx, url, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := <-seenCh
	if s.proto != "HTTP/2.0" || s.method != http.MethodConnect || s.cookie != "sid=42" || s.custom != "yes" || s.auth != "u:p" {
		t.Errorf("the server saw %+v", s)
	}
	if v := cl.HTTPVersion(); v != "2" {
		t.Errorf("HTTPVersion %q", v)
	}
	if p := cl.NegotiatedSubProtocol(); p != "chat" {
		t.Errorf("subprotocol %q, want chat", p)
	}
	if ext := cl.HandshakeResponse().Header.Get("Sec-WebSocket-Extensions"); !strings.Contains(ext, "permessage-deflate") {
		t.Errorf("extensions %q: deflate not negotiated", ext)
	}
	h2Echo(t, cl)
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB, compressible
	if err := cl.WriteBinaryMessage(ctx, big); err != nil {
		t.Fatal(err)
	}
	if got, err := cl.ReadBinaryMessage(ctx); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("1 MiB echo: %d bytes, %v", len(got), err)
	}
	if err := cl.Close(ctx, 1000, "bye"); err != nil {
		t.Fatal(err)
	}
	if code := <-closed; code != 1000 {
		t.Errorf("server OnClose %d, want 1000", code)
	}
	if n := cfg.HTTP2Pool.Conns(); n != 0 {
		t.Errorf("pool holds %d connections after the last close", n)
	}
}

// TestH2ClientListenerShared: 20 clients of one origin are streams of one
// connection; the Listener sees them all as WebSockets; closing the
// server's side of one (CloseNow resets its stream) ends it with 1006 and
// the others go on.
func TestH2ClientListenerShared(t *testing.T) {
	var mu sync.Mutex
	var conns []*websocket.Conn
	up := websocket.UpgradeFunc(func(*http.Request, http.Header) (websocket.Service, error) {
		return &websocket.ServiceFuncs{
			OnOpen: func(c *websocket.Conn) error {
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
				return nil
			},
			OnTextMessage: func(c *websocket.Conn, text []byte) error {
				if string(text) == "drop" {
					return c.CloseNow()
				}
				return c.WriteTextMessage(c.Context(), text)
			},
		}, nil
	})
	l, url, cfg := h2ListenerClient(t, up, nil)
	ctx := testCtx(t)
	var cls []*websocket.Client
	for i := range 20 {
		cl, err := websocket.Dial(ctx, url, cfg)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		defer cl.Close(ctx, 1000, "")
		cls = append(cls, cl)
	}
	if n := cfg.HTTP2Pool.Conns(); n != 1 {
		t.Errorf("20 sockets use %d connections, want 1", n)
	}
	local := cls[0].LocalAddr().String()
	for _, cl := range cls {
		if a := cl.LocalAddr().String(); a != local {
			t.Errorf("local address %s, want the shared %s", a, local)
		}
		h2EchoShort(t, cl)
	}
	mu.Lock()
	opened := len(conns)
	mu.Unlock()
	if opened != 20 {
		t.Errorf("the server opened %d WebSockets, want 20", opened)
	}
	if n := l.Len(); n < 20 {
		t.Errorf("Listener.Len %d, want at least 20", n)
	}
	if err := cls[0].WriteTextMessage(ctx, []byte("drop")); err != nil {
		t.Fatal(err)
	}
	_, err := cls[0].ReadTextMessage(ctx)
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 1006 {
		t.Fatalf("after the server dropped the socket: %v, want CloseError 1006", err)
	}
	for _, cl := range cls[1:] {
		h2EchoShort(t, cl)
	}
}

// TestH2ClientListenerGracefulStop: a graceful stop of the Listener sends
// 1001 on every stream.
func TestH2ClientListenerGracefulStop(t *testing.T) {
	opened := make(chan struct{}, 3)
	up := websocket.UpgradeFunc(func(*http.Request, http.Header) (websocket.Service, error) {
		return &websocket.ServiceFuncs{OnOpen: func(*websocket.Conn) error { opened <- struct{}{}; return nil }}, nil
	})
	l, url, cfg := h2ListenerClient(t, up, nil)
	ctx := testCtx(t)
	var cls []*websocket.Client
	for range 3 {
		cl, err := websocket.Dial(ctx, url, cfg)
		if err != nil {
			t.Fatal(err)
		}
		cls = append(cls, cl)
	}
	// The stop comes after every socket's Open: one stopped between the
	// 200 and its Open is refused without a close frame (as over HTTP/1.1).
	for range 3 {
		recv(t, opened)
	}
	stopped := make(chan error, 1)
	go func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- l.GracefulStop(sctx)
	}()
	for _, cl := range cls {
		_, err := cl.ReadTextMessage(ctx)
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != 1001 {
			t.Errorf("read during the stop: %v, want CloseError 1001", err)
		}
	}
	if err := <-stopped; err != nil {
		t.Errorf("GracefulStop: %v", err)
	}
}

// TestH2ClientListenerRetryAsync: an AsyncClient with Retry over a stream
// reconnects on a new stream after the server drops its socket, and runs
// OnOpen again.
func TestH2ClientListenerRetryAsync(t *testing.T) {
	up := websocket.UpgradeFunc(func(*http.Request, http.Header) (websocket.Service, error) {
		return &websocket.ServiceFuncs{OnTextMessage: func(c *websocket.Conn, text []byte) error {
			if string(text) == "drop" {
				return c.CloseNow()
			}
			return c.WriteTextMessage(c.Context(), text)
		}}, nil
	})
	_, url, cfg := h2ListenerClient(t, up, nil)
	cfg.Retry = &websocket.RetryConfig{MaxCount: 3, Interval: time.Millisecond}
	opens := make(chan *websocket.Conn, 4)
	got := make(chan string, 4)
	svc := &websocket.ServiceFuncs{
		OnOpen:        func(c *websocket.Conn) error { opens <- c; return nil },
		OnTextMessage: func(c *websocket.Conn, text []byte) error { got <- string(text); return nil },
	}
	ctx := testCtx(t)
	ac, err := websocket.DialAsync(ctx, url, svc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ac.Close(ctx, 1000, "")
		<-ac.Done()
	}()
	wait := func(what string) {
		t.Helper()
		select {
		case <-opens:
		case <-ctx.Done():
			t.Fatal("no OnOpen " + what)
		}
	}
	wait("at first")
	if err := ac.WriteTextMessage(ctx, []byte("drop")); err != nil {
		t.Fatal(err)
	}
	wait("after the reconnection")
	if err := ac.WriteTextMessage(ctx, []byte("again")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if m != "again" {
			t.Errorf("got %q", m)
		}
	case <-ctx.Done():
		t.Fatal("no echo on the new stream")
	}
	if n := ac.Reconnects(); n != 1 {
		t.Errorf("Reconnects %d, want 1", n)
	}
	if v := ac.HTTPVersion(); v != "2" {
		t.Errorf("HTTPVersion %q", v)
	}
}

// TestH2ClientListenerDisabled: a Listener with DisableHTTP2 gets the
// HTTP/1.1 upgrade (ALPN fallback).
func TestH2ClientListenerDisabled(t *testing.T) {
	srvTLS, cliTLS := netkittest.TLSPair(t)
	l := serve(t, "/ws", echoUpgrade(), nil, &websocket.ListenerConfig{TLSConfig: srvTLS, DisableHTTP2: true})
	cfg := &websocket.ClientConfig{HTTP2: true, HTTP2Pool: &websocket.HTTP2Pool{}, TLSConfig: cliTLS, Proxy: websocket.NoProxy}
	cl, err := websocket.Dial(testCtx(t), "wss://"+addrOf(l)+"/ws", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close(testCtx(t), 1000, "")
	if v := cl.HTTPVersion(); v != "1.1" {
		t.Errorf("HTTPVersion %q, want 1.1", v)
	}
	if st := cl.TLS(); st == nil || st.NegotiatedProtocol != "http/1.1" {
		t.Errorf("TLS %v", st)
	}
	h2EchoShort(t, cl)
}
