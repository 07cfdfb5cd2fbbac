package websocket_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"

	_ "github.com/netkit-go/netkit/internal/h2ext" // extended CONNECT for x/net/http2 servers
	"github.com/netkit-go/netkit/internal/wsproto"
	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/websocket"
)

// h2Srv is a minimal RFC 8441 server for the client's tests: an
// x/net/http2 TLS server whose handler answers CONNECT :protocol websocket
// with 200 and echoes messages, written with internal/wsproto only (no
// deflate). A GET upgrade goes to a websocket.Handler echo, for the
// fallback.
type h2Srv struct {
	srv    *httptest.Server
	client *tls.Config
	h1     *websocket.Handler

	mu      sync.Mutex
	reqs    []*http.Request // the CONNECT requests seen
	remotes map[string]bool // their connections' remote addresses
	// reset makes the next n streams end with RST_STREAM after the 200
	// and the first message.
	reset int
	// noPong: pings are not answered.
	noPong bool
	// stall: the handler never reads after the 200.
	stall chan struct{}
}

type h2SrvOpts struct {
	h1Only   bool // ALPN http/1.1 only
	netHTTP2 bool // net/http's bundled HTTP/2 (no RFC 8441 advertised)
}

func newH2Srv(t testing.TB, o h2SrvOpts) *h2Srv {
	t.Helper()
	s := &h2Srv{remotes: map[string]bool{}, stall: make(chan struct{})}
	s.h1 = websocket.NewHandler(websocket.Static(websocket.Echo), &websocket.ServiceConfig{Logger: quietLogger})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	srv.Config.ErrorLog = nil
	serverTLS, clientTLS := netkittest.TLSPair(t)
	s.client = clientTLS
	switch {
	case o.h1Only:
		serverTLS.NextProtos = []string{"http/1.1"}
	case o.netHTTP2:
		srv.EnableHTTP2 = true
	default:
		srv.Config.TLSConfig = serverTLS
		if err := http2.ConfigureServer(srv.Config, nil); err != nil {
			t.Fatal(err)
		}
		serverTLS = srv.Config.TLSConfig
	}
	srv.TLS = serverTLS
	srv.StartTLS()
	s.srv = srv
	t.Cleanup(func() {
		close(s.stall)
		s.h1.ImmediateStop()
		srv.CloseClientConnections()
		srv.Close()
	})
	return s
}

// url returns the wss URL of path on the server (the client's TLS
// configuration names the certificate's host).
func (s *h2Srv) url(path string) string { return "wss://" + s.srv.Listener.Addr().String() + path }

func (s *h2Srv) cfg() *websocket.ClientConfig {
	return &websocket.ClientConfig{HTTP2: true, HTTP2Pool: &websocket.HTTP2Pool{}, TLSConfig: s.client, Proxy: websocket.NoProxy, Logger: quietLogger}
}

func (s *h2Srv) requests() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.reqs...)
}

func (s *h2Srv) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		s.h1.ServeHTTP(w, r)
		return
	}
	if r.Header.Get(":protocol") != "websocket" || r.Header.Get("Sec-WebSocket-Version") != "13" {
		http.Error(w, "bad extended CONNECT", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, r)
	s.remotes[r.RemoteAddr] = true
	reset := s.reset > 0
	if reset {
		s.reset--
	}
	noPong := s.noPong
	s.mu.Unlock()
	if offered := wsproto.Subprotocols(r); len(offered) > 0 {
		w.Header().Set("Sec-WebSocket-Protocol", offered[0])
	}
	if r.URL.Query().Get("status") == "403" {
		http.Error(w, "no", http.StatusForbidden)
		return
	}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if err := rc.Flush(); err != nil {
		return
	}
	if r.URL.Path == "/stall" {
		select {
		case <-s.stall:
		case <-r.Context().Done():
		}
		return
	}
	var mr wsproto.MessageReader
	buf := make([]byte, 32<<10)
	var out []byte
	for {
		n, err := r.Body.Read(buf)
		data := buf[:n]
		for len(data) > 0 {
			k, m, perr := mr.Parse(data)
			data = data[k:]
			if perr != nil {
				return
			}
			out = out[:0]
			switch m.Op {
			case 0:
				continue
			case wsproto.OpPing:
				if noPong {
					continue
				}
				out = wsproto.AppendFrame(out, wsproto.Header{Fin: true, Opcode: wsproto.OpPong, Length: int64(len(m.Data))}, m.Data)
			case wsproto.OpPong:
				continue
			case wsproto.OpClose:
				out = wsproto.AppendFrame(out, wsproto.Header{Fin: true, Opcode: wsproto.OpClose, Length: int64(len(m.Data))}, m.Data)
				w.Write(out)
				rc.Flush()
				return
			default:
				out = wsproto.AppendFrame(out, wsproto.Header{Fin: true, Opcode: m.Op, Length: int64(len(m.Data))}, m.Data)
			}
			if _, err := w.Write(out); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
			if reset {
				panic(http.ErrAbortHandler) // RST_STREAM
			}
		}
		if err != nil {
			return
		}
	}
}

// echo sends text and binary messages and checks their echoes.
func h2Echo(t *testing.T, cl *websocket.Client) {
	t.Helper()
	ctx := testCtx(t)
	for i, msg := range []string{"hello", strings.Repeat("x", 70000), ""} {
		typ := websocket.TextMessage
		if i == 1 {
			typ = websocket.BinaryMessage
		}
		if err := cl.Write(ctx, typ, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		gt, got, err := cl.Read(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if gt != typ || string(got) != msg {
			t.Fatalf("echo %d: got %v %d bytes, want %v %d bytes", i, gt, len(got), typ, len(msg))
		}
	}
}

// TestH2ClientHandshake: ClientConfig.HTTP2 dials an RFC 8441 extended
// CONNECT carrying the path, query, version, subprotocols, extensions,
// custom headers, cookies and auth; the WebSocket echoes over the stream
// and the client reports HTTP/2.0.
func TestH2ClientHandshake(t *testing.T) {
	s := newH2Srv(t, h2SrvOpts{})
	cfg := s.cfg()
	cfg.SubProtocols = []string{"chat", "superchat"}
	cfg.CustomHeaders = http.Header{"X-Custom": {"v1"}}
	cfg.Cookies = []*http.Cookie{{Name: "a", Value: "1"}, {Name: "b", Value: "2", Path: "/long"}}
	cfg.Auth = websocket.BasicAuth{Username: "user", Password: "pass"}
	cl, err := websocket.Dial(testCtx(t), s.url("/ws?x=1"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close(testCtx(t), 1000, "")
	if v := cl.HTTPVersion(); v != "2" {
		t.Fatalf("HTTPVersion = %q, want 2", v)
	}
	if st := cl.HandshakeResponse().StatusCode; st != 200 {
		t.Errorf("HandshakeResponse status %d, want 200", st)
	}
	if p := cl.NegotiatedSubProtocol(); p != "chat" {
		t.Errorf("subprotocol %q, want chat", p)
	}
	if !cl.IsSecure() || cl.TLS() == nil || cl.TLS().NegotiatedProtocol != "h2" {
		t.Errorf("IsSecure %v, TLS %v: want a TLS state with ALPN h2", cl.IsSecure(), cl.TLS())
	}
	h2Echo(t, cl)
	reqs := s.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d CONNECTs, want 1", len(reqs))
	}
	r := reqs[0]
	for _, c := range []struct{ what, got, want string }{
		{"proto", r.Proto, "HTTP/2.0"},
		{"method", r.Method, "CONNECT"},
		{":protocol", r.Header.Get(":protocol"), "websocket"},
		{"path", r.URL.Path, "/ws"},
		{"query", r.URL.RawQuery, "x=1"},
		{"version", r.Header.Get("Sec-WebSocket-Version"), "13"},
		{"protocols", r.Header.Get("Sec-WebSocket-Protocol"), "chat, superchat"},
		{"custom", r.Header.Get("X-Custom"), "v1"},
		{"authorization", r.Header.Get("Authorization"), "Basic dXNlcjpwYXNz"},
		{"cookie", strings.Join(r.Header.Values("Cookie"), "; "), "b=2; a=1"},
		{"key", r.Header.Get("Sec-WebSocket-Key"), ""},
		{"upgrade", r.Header.Get("Upgrade"), ""},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if ext := r.Header.Get("Sec-WebSocket-Extensions"); !strings.Contains(ext, "permessage-deflate") {
		t.Errorf("extensions %q: want a permessage-deflate offer", ext)
	}
}

// TestH2ClientPoolShares: clients of one origin share one TCP connection
// as streams; the connection closes with its last stream; the bound per
// connection opens a second one.
func TestH2ClientPoolShares(t *testing.T) {
	s := newH2Srv(t, h2SrvOpts{})
	cfg := s.cfg()
	cfg.HTTP2Pool.MaxStreamsPerConn = 4
	cfg.HTTP2Pool.MaxConnsPerOrigin = 2
	var cls []*websocket.Client
	ctx := testCtx(t)
	for i := range 8 {
		cl, err := websocket.Dial(ctx, s.url("/ws"), cfg)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		cls = append(cls, cl)
	}
	if n := cfg.HTTP2Pool.Conns(); n != 2 {
		t.Errorf("pool holds %d connections for 8 sockets of 4 streams each, want 2", n)
	}
	s.mu.Lock()
	remotes := len(s.remotes)
	s.mu.Unlock()
	if remotes != 2 {
		t.Errorf("server saw %d connections, want 2", remotes)
	}
	if _, err := websocket.Dial(ctx, s.url("/ws"), cfg); !errors.Is(err, websocket.ErrConnection) {
		t.Errorf("a 9th socket on a full pool: %v, want ErrConnection", err)
	}
	for _, cl := range cls {
		h2EchoShort(t, cl)
	}
	for _, cl := range cls {
		if err := cl.Close(ctx, 1000, ""); err != nil {
			t.Error(err)
		}
	}
	if n := cfg.HTTP2Pool.Conns(); n != 0 {
		t.Errorf("pool holds %d connections after every socket closed, want 0", n)
	}
}

func h2EchoShort(t *testing.T, cl *websocket.Client) {
	t.Helper()
	ctx := testCtx(t)
	if err := cl.WriteTextMessage(ctx, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if got, err := cl.ReadTextMessage(ctx); err != nil || string(got) != "ping" {
		t.Fatalf("echo: %q, %v", got, err)
	}
}

// TestH2ClientFallback: a server that does not take RFC 8441 (ALPN
// http/1.1 only, or an HTTP/2 server without
// SETTINGS_ENABLE_CONNECT_PROTOCOL) gets an HTTP/1.1 upgrade, and the
// client says so.
func TestH2ClientFallback(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    h2SrvOpts
	}{{"alpn-http1", h2SrvOpts{h1Only: true}}, {"no-setting", h2SrvOpts{netHTTP2: true}}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newH2Srv(t, tc.o)
			cfg := s.cfg()
			for range 2 { // the second dial goes straight to HTTP/1.1
				cl, err := websocket.Dial(testCtx(t), s.url("/ws"), cfg)
				if err != nil {
					t.Fatal(err)
				}
				if v := cl.HTTPVersion(); v != "1.1" {
					t.Errorf("HTTPVersion = %q, want 1.1", v)
				}
				if st := cl.HandshakeResponse().StatusCode; st != 101 {
					t.Errorf("status %d, want 101", st)
				}
				h2EchoShort(t, cl)
				cl.Close(testCtx(t), 1000, "")
			}
			if n := len(s.requests()); n != 0 {
				t.Errorf("%d extended CONNECTs reached the handler, want 0", n)
			}
			if n := cfg.HTTP2Pool.Conns(); n != 0 {
				t.Errorf("pool holds %d connections, want 0", n)
			}
		})
	}
}

// TestH2ClientRefused: a non-200 answer is an *InvalidHandshakeError with
// the status and body.
func TestH2ClientRefused(t *testing.T) {
	s := newH2Srv(t, h2SrvOpts{})
	cfg := s.cfg()
	_, err := websocket.Dial(testCtx(t), s.url("/ws?status=403"), cfg)
	var he *websocket.InvalidHandshakeError
	if !errors.As(err, &he) || he.Status != 403 {
		t.Fatalf("err = %v, want an InvalidHandshakeError with 403", err)
	}
	body, _ := io.ReadAll(he.Response.Body)
	if !bytes.Contains(body, []byte("no")) {
		t.Errorf("body %q", body)
	}
	if n := cfg.HTTP2Pool.Conns(); n != 0 {
		t.Errorf("pool holds %d connections, want 0", n)
	}
}

// TestH2ClientStreamReset: a stream reset by the server ends the socket
// with 1006; other streams of the connection go on; with Retry the client
// reconnects on a new stream.
func TestH2ClientStreamReset(t *testing.T) {
	s := newH2Srv(t, h2SrvOpts{})
	cfg := s.cfg()
	ctx := testCtx(t)
	other, err := websocket.Dial(ctx, s.url("/ws"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx, 1000, "")
	s.mu.Lock()
	s.reset = 1
	s.mu.Unlock()
	cl, err := websocket.Dial(ctx, s.url("/ws"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.WriteTextMessage(ctx, []byte("a")); err != nil {
		t.Fatal(err)
	}
	if got, err := cl.ReadTextMessage(ctx); err != nil || string(got) != "a" {
		t.Fatalf("echo before the reset: %q, %v", got, err)
	}
	_, err = cl.ReadTextMessage(ctx)
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 1006 {
		t.Fatalf("read after RST_STREAM: %v, want a CloseError 1006", err)
	}
	h2EchoShort(t, other)

	// With Retry.
	s.mu.Lock()
	s.reset = 1
	s.mu.Unlock()
	rcfg := *cfg
	rctx, reconnected := context.WithCancel(ctx)
	defer reconnected()
	rcfg.Retry = &websocket.RetryConfig{MaxCount: 3, Interval: time.Millisecond, OnReconnect: func(*websocket.Client) { reconnected() }}
	rc, err := websocket.Dial(ctx, s.url("/ws"), &rcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close(ctx, 1000, "")
	h2EchoShort(t, rc) // the reset follows this echo
	// This read sees the reset, reconnects, and goes on on the new stream
	// until OnReconnect ends it.
	if _, err := rc.ReadTextMessage(rctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("read across the reconnection: %v, want context.Canceled", err)
	}
	h2EchoShort(t, rc) // on the new stream
	if n := rc.Reconnects(); n != 1 {
		t.Errorf("Reconnects = %d, want 1", n)
	}
	if v := rc.HTTPVersion(); v != "2" {
		t.Errorf("HTTPVersion after the reconnect = %q", v)
	}
}

// TestH2ClientDeadlines: over a stream, a read timeout consumes nothing
// and the socket goes on; a write to a server that stops reading times out
// once the stream's flow-control window is full.
func TestH2ClientDeadlines(t *testing.T) {
	s := newH2Srv(t, h2SrvOpts{})
	cfg := s.cfg()
	cfg.ReadTimeout = 50 * time.Millisecond
	ctx := testCtx(t)
	cl, err := websocket.Dial(ctx, s.url("/ws"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close(ctx, 1000, "")
	if _, err := cl.ReadTextMessage(ctx); !errors.Is(err, websocket.ErrReadTimedOut) {
		t.Fatalf("read with nothing sent: %v, want ErrReadTimedOut", err)
	}
	h2EchoShort(t, cl)

	wcfg := s.cfg()
	wcfg.WriteTimeout = 100 * time.Millisecond
	st, err := websocket.Dial(ctx, s.url("/stall"), wcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(ctx, 1000, "")
	big := make([]byte, 256<<10)
	for i := 0; ; i++ {
		if i == 64 { // 16 MiB: more than any window
			t.Fatal("writes to a server that never reads did not time out")
		}
		err := st.WriteBinaryMessage(ctx, big)
		if err == nil {
			continue
		}
		if !errors.Is(err, websocket.ErrWriteTimedOut) {
			t.Fatalf("write: %v, want ErrWriteTimedOut", err)
		}
		break
	}
}

// TestH2ClientKeepalive: pings go over the stream; a server that answers
// them keeps the socket; one that does not ends it with ErrPongTimeout.
func TestH2ClientKeepalive(t *testing.T) {
	s := newH2Srv(t, h2SrvOpts{})
	cfg := s.cfg()
	cfg.PingInterval = 20 * time.Millisecond
	cfg.PongTimeout = 200 * time.Millisecond
	ctx := testCtx(t)
	s.mu.Lock()
	s.noPong = true
	s.mu.Unlock()
	cl, err := websocket.Dial(ctx, s.url("/ws"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close(ctx, 1000, "")
	if _, err := cl.ReadTextMessage(ctx); !errors.Is(err, websocket.ErrPongTimeout) {
		t.Fatalf("read with pings unanswered: %v, want ErrPongTimeout", err)
	}

	pongs := make(chan struct{}, 16)
	pcfg := s.cfg()
	pcfg.PingPongHandler = pongService{pongs}
	s.mu.Lock()
	s.noPong = false
	s.mu.Unlock()
	pc, err := websocket.Dial(ctx, s.url("/ws"), pcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(ctx, 1000, "")
	if err := pc.Ping(ctx, []byte("p")); err != nil {
		t.Fatal(err)
	}
	if err := pc.WriteTextMessage(ctx, []byte("after")); err != nil {
		t.Fatal(err)
	}
	if got, err := pc.ReadTextMessage(ctx); err != nil || string(got) != "after" {
		t.Fatalf("read: %q, %v", got, err)
	}
	select {
	case <-pongs:
	default:
		t.Error("the pong that came before the echo was not handed to the PongHandler")
	}
}

type pongService struct{ ch chan struct{} }

func (p pongService) OnPong(c *websocket.Conn, data []byte) error { p.ch <- struct{}{}; return nil }

// TestH2ClientAsync: an AsyncClient over a stream runs its Service.
func TestH2ClientAsync(t *testing.T) {
	s := newH2Srv(t, h2SrvOpts{})
	got := make(chan string, 1)
	closed := make(chan int, 1)
	svc := &h2AsyncSvc{got: got, closed: closed}
	ac, err := websocket.DialAsync(testCtx(t), s.url("/ws"), svc, s.cfg())
	if err != nil {
		t.Fatal(err)
	}
	if v := ac.HTTPVersion(); v != "2" {
		t.Errorf("HTTPVersion = %q", v)
	}
	if err := ac.WriteTextMessage(testCtx(t), []byte("async")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if m != "async" {
			t.Errorf("got %q", m)
		}
	case <-testCtx(t).Done():
		t.Fatal("no echo")
	}
	if err := ac.Close(testCtx(t), 1000, "bye"); err != nil {
		t.Error(err)
	}
	select {
	case code := <-closed:
		if code != 1000 {
			t.Errorf("OnClose code %d, want 1000", code)
		}
	case <-testCtx(t).Done():
		t.Fatal("no OnClose")
	}
	<-ac.Done()
}

type h2AsyncSvc struct {
	got    chan string
	closed chan int
}

func (s *h2AsyncSvc) OnTextMessage(c *websocket.Conn, text []byte) error {
	s.got <- string(text)
	return nil
}

func (s *h2AsyncSvc) OnClose(c *websocket.Conn, code int, reason string) { s.closed <- code }

// TestH2ClientProxy: through an HTTP CONNECT proxy the TLS session inside
// the tunnel negotiates h2 and the sockets share the tunnel.
func TestH2ClientProxy(t *testing.T) {
	s := newH2Srv(t, h2SrvOpts{})
	proxy := newCLProxy(t)
	cfg := s.cfg()
	cfg.Proxy = http.ProxyURL(proxy.url)
	ctx := testCtx(t)
	a, err := websocket.Dial(ctx, s.url("/ws"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx, 1000, "")
	b, err := websocket.Dial(ctx, s.url("/ws"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx, 1000, "")
	for _, cl := range []*websocket.Client{a, b} {
		if v := cl.HTTPVersion(); v != "2" {
			t.Errorf("HTTPVersion = %q", v)
		}
		h2EchoShort(t, cl)
	}
	if n := len(proxy.requests()); n != 1 {
		t.Errorf("proxy saw %d CONNECTs for two sockets, want 1 (one shared tunnel)", n)
	}

	// An https proxy (TLS to the proxy, then TLS with ALPN h2 to the
	// target inside the tunnel); a pool of its own, since the proxy is
	// part of the pool's key anyway. The proxy presents the test server
	// certificate, of the CA the client trusts.
	certs := netkittest.NewCertificates(t)
	hp := newCLProxyTLS(t, &tls.Config{Certificates: []tls.Certificate{certs.Server}})
	hcfg := s.cfg()
	hcfg.Proxy = http.ProxyURL(hp.url)
	c, err := websocket.Dial(ctx, s.url("/ws"), hcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx, 1000, "")
	if v := c.HTTPVersion(); v != "2" {
		t.Errorf("through an https proxy: HTTPVersion = %q", v)
	}
	h2EchoShort(t, c)
	if n := len(hp.requests()); n != 1 {
		t.Errorf("https proxy saw %d CONNECTs, want 1", n)
	}
}
