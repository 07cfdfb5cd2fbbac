package websocket_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/tlsconfig"
	"github.com/netkit-go/netkit/websocket"
)

func readBody(t *testing.T, c *rawClient) string {
	t.Helper()
	return string(c.body)
}

// TestUpgradeStatus covers §5.2's handshake table and §5.10 "Handshake".
func TestUpgradeStatus(t *testing.T) {
	up := websocket.UpgradeFunc(func(r *http.Request, h http.Header) (websocket.Service, error) {
		switch r.URL.Query().Get("case") {
		case "error":
			return nil, errors.New("cancelled by the service")
		case "upgrade418":
			return nil, &websocket.UpgradeError{Status: 418, Message: "teapot"}
		case "upgrade200":
			return nil, &websocket.UpgradeError{Status: 200, Message: "not a failure status"}
		case "authn":
			return nil, &websocket.AuthnError{Message: "who are you"}
		case "authz":
			return nil, &websocket.AuthzError{Message: "not you"}
		case "panic":
			panic("boom")
		case "misspelled":
			return &misspelled{}, nil
		case "nil":
			return nil, nil
		}
		return websocket.Echo, nil
	})
	l := serve(t, "/ws", up, nil, nil)
	for _, tc := range []struct {
		query  string
		status int
		body   string
	}{
		{"error", 400, "Bad Request"},
		{"upgrade418", 418, "teapot"},
		{"upgrade200", 400, "not a failure status"},
		{"authn", 401, "who are you"},
		{"authz", 403, "not you"},
		{"panic", 500, ""},
		{"misspelled", 500, ""},
		{"nil", 500, ""},
		{"ok", 101, ""},
	} {
		t.Run(tc.query, func(t *testing.T) {
			c := dialRaw(t, addrOf(l), "/ws?case="+tc.query, nil)
			if c.resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", c.resp.StatusCode, tc.status)
			}
			if tc.body != "" && !strings.Contains(readBody(t, c), tc.body) {
				t.Fatalf("body does not contain %q", tc.body)
			}
		})
	}
	// A plain error's text stays on the server unless ExposeUpgradeErrors.
	t.Run("error text not sent", func(t *testing.T) {
		c := dialRaw(t, addrOf(l), "/ws?case=error", nil)
		if body := readBody(t, c); strings.Contains(body, "cancelled") {
			t.Fatalf("body %q leaks the error's text", body)
		}
	})
	t.Run("ExposeUpgradeErrors", func(t *testing.T) {
		le := serve(t, "/ws", up, &websocket.ServiceConfig{ExposeUpgradeErrors: true}, nil)
		c := dialRaw(t, addrOf(le), "/ws?case=error", nil)
		if body := readBody(t, c); c.resp.StatusCode != 400 || !strings.Contains(body, "cancelled by the service") {
			t.Fatalf("status %d, body %q", c.resp.StatusCode, body)
		}
	})
	t.Run("unknown path", func(t *testing.T) {
		c := dialRaw(t, addrOf(l), "/other", nil)
		if c.resp.StatusCode != 404 || !strings.Contains(readBody(t, c), "No service found") {
			t.Fatalf("status %d", c.resp.StatusCode)
		}
	})
	t.Run("bad version", func(t *testing.T) {
		c := dialRaw(t, addrOf(l), "/ws", http.Header{"Sec-Websocket-Version": {"8"}})
		// The raw client adds version 13 too: two values are invalid.
		if c.resp.StatusCode != 426 {
			t.Fatalf("status %d, want 426", c.resp.StatusCode)
		}
	})
	t.Run("plain GET on the path", func(t *testing.T) {
		resp, err := http.Get("http://" + addrOf(l) + "/ws")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 && resp.StatusCode != 400 && resp.StatusCode != 426 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("URI too long", func(t *testing.T) {
		c := dialRaw(t, addrOf(l), "/ws?"+strings.Repeat("a", 5000), nil)
		if c.resp.StatusCode != 414 {
			t.Fatalf("status %d, want 414", c.resp.StatusCode)
		}
	})
	t.Run("header too large", func(t *testing.T) {
		c := dialRaw(t, addrOf(l), "/ws", http.Header{"X-Big": {strings.Repeat("b", 16<<10)}})
		if c.resp.StatusCode != 431 {
			t.Fatalf("status %d, want 431", c.resp.StatusCode)
		}
	})
}

type misspelled struct{}

func (*misspelled) OnText(c *websocket.Conn, text []byte) error { return nil }

func TestMisspelledCallbackIsAnError(t *testing.T) {
	type wrongSig struct{ misspelled }
	if err := websocket.CheckService(&misspelled{}); err == nil || !strings.Contains(err.Error(), "OnText") {
		t.Fatalf("got %v", err)
	}
	if err := websocket.CheckService(websocket.Echo); err != nil {
		t.Fatal(err)
	}
	if err := websocket.CheckService(&badSig{}); err == nil || !strings.Contains(err.Error(), "OnTextMessage has signature") {
		t.Fatalf("got %v", err)
	}
}

type badSig struct{}

func (*badSig) OnTextMessage(c *websocket.Conn, text string) error { return nil }

func TestSubprotocolAndCustomHeaders(t *testing.T) {
	got := make(chan string, 1)
	up := websocket.UpgradeFunc(func(r *http.Request, h http.Header) (websocket.Service, error) {
		h.Set("X-some-header", "some-value")
		h.Add("Set-Cookie", "session=abc")
		return &websocket.ServiceFuncs{OnOpen: func(c *websocket.Conn) error {
			got <- c.NegotiatedSubProtocol()
			return nil
		}}, nil
	})
	l := serve(t, "/ws", up, &websocket.ServiceConfig{SubProtocols: []string{"xml", "json"}}, &websocket.ListenerConfig{Server: "netkit-test"})
	c := dialWS(t, addrOf(l), "/ws", http.Header{"Sec-Websocket-Protocol": {"chat, json"}})
	if p := c.resp.Header.Get("Sec-WebSocket-Protocol"); p != "json" {
		t.Fatalf("subprotocol %q", p)
	}
	if v := c.resp.Header.Get("X-Some-Header"); v != "some-value" {
		t.Fatalf("X-some-header %q", v)
	}
	if v := c.resp.Header.Get("Set-Cookie"); v != "session=abc" {
		t.Fatalf("Set-Cookie %q", v)
	}
	if v := c.resp.Header.Get("Server"); v != "netkit-test" {
		t.Fatalf("Server %q", v)
	}
	if p := <-got; p != "json" {
		t.Fatalf("NegotiatedSubProtocol %q", p)
	}
	bad := dialRaw(t, addrOf(l), "/ws", http.Header{"Sec-Websocket-Protocol": {"chat"}})
	if bad.resp.StatusCode != 400 || !strings.Contains(readBody(t, bad), "Invalid subprotocol. Actual: chat. Expected one of: xml, json") {
		t.Fatalf("mismatch: status %d", bad.resp.StatusCode)
	}
	none := dialRaw(t, addrOf(l), "/ws", nil)
	if none.resp.StatusCode != 400 || !strings.Contains(readBody(t, none), "Actual: null") {
		t.Fatalf("no offer: status %d", none.resp.StatusCode)
	}
}

func TestOriginCheck(t *testing.T) {
	l := serveEcho(t, nil)
	host := addrOf(l)
	for _, tc := range []struct {
		origin string
		status int
	}{
		{"", 101},
		{"http://" + host, 101},
		{"http://other.example", 403},
		{"::bad", 403},
	} {
		var h http.Header
		if tc.origin != "" {
			h = http.Header{"Origin": {tc.origin}}
		}
		if c := dialRaw(t, host, "/ws", h); c.resp.StatusCode != tc.status {
			t.Errorf("origin %q: status %d, want %d", tc.origin, c.resp.StatusCode, tc.status)
		}
	}
	l2 := serve(t, "/ws", websocket.Static(websocket.Echo), &websocket.ServiceConfig{CheckOrigin: func(r *http.Request) bool {
		return r.Header.Get("Origin") == "https://app.example"
	}}, nil)
	if c := dialRaw(t, addrOf(l2), "/ws", http.Header{"Origin": {"https://app.example"}}); c.resp.StatusCode != 101 {
		t.Errorf("custom CheckOrigin: status %d", c.resp.StatusCode)
	}
}

func TestFallbackServesPlainHTTP(t *testing.T) {
	fb := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "page "+r.URL.Path) })
	l := serve(t, "/ws", websocket.Static(websocket.Echo), nil, &websocket.ListenerConfig{Fallback: fb})
	resp, err := http.Get("http://" + addrOf(l) + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "page /" {
		t.Fatalf("got %q", b)
	}
	c := dialWS(t, addrOf(l), "/ws", nil)
	c.sendText("hi")
	c.expectMessage(opText, []byte("hi"))
}

// TestFramesBufferedWithTheRequest: frames sent in the same write as the
// upgrade request (held by net/http's bufio.Reader at Hijack) are served.
func TestFramesBufferedWithTheRequest(t *testing.T) {
	l := serveEcho(t, nil)
	nc, err := net.Dial("tcp", addrOf(l))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	req := "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	msg := append([]byte(req), frame(true, 0, opText, []byte("early"))...)
	msg = append(msg, frame(true, 0, opBinary, []byte("bird"))...)
	nc.Write(msg)
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	want := []byte("\x81\x05early\x82\x04bird")
	var got []byte
	buf := make([]byte, 4096)
	for !bytes.HasSuffix(got, want) {
		n, err := nc.Read(buf)
		if err != nil {
			t.Fatalf("%v after %q", err, got)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.HasPrefix(got, []byte("HTTP/1.1 101 ")) {
		t.Fatalf("got %q", got)
	}
}

func TestTLS(t *testing.T) {
	srvTLS, cliTLS := netkittest.TLSPair(t)
	secure := make(chan bool, 1)
	up := websocket.Static(&websocket.ServiceFuncs{OnOpen: func(c *websocket.Conn) error {
		secure <- c.IsSecure() && c.TLS() != nil && c.TLS().NegotiatedProtocol == "http/1.1"
		return nil
	}, OnTextMessage: func(c *websocket.Conn, text []byte) error { return c.WriteTextMessage(c.Context(), text) }})
	// DisableHTTP2: ALPN offers http/1.1 only, even to a client that
	// prefers h2 (TestH2ListenerEcho covers the default, h2 first).
	l := serve(t, "/wss", up, nil, &websocket.ListenerConfig{TLSConfig: srvTLS, DisableHTTP2: true})
	cfg := cliTLS.Clone()
	cfg.NextProtos = []string{"h2", "http/1.1"}
	tc, err := tls.Dial("tcp", addrOf(l), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if p := tc.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Fatalf("ALPN %q, want http/1.1", p)
	}
	req := "GET /wss HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	tc.Write(append([]byte(req), frame(true, 0, opText, []byte("secret"))...))
	tc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var got []byte
	buf := make([]byte, 4096)
	for !bytes.HasSuffix(got, []byte("\x81\x06secret")) {
		n, err := tc.Read(buf)
		if err != nil {
			t.Fatalf("%v after %q", err, got)
		}
		got = append(got, buf[:n]...)
	}
	if !<-secure {
		t.Fatal("IsSecure/TLS/ALPN not as expected")
	}
}

func TestSecureSocketCertKey(t *testing.T) {
	certs := netkittest.NewCertificates(t)
	l := serve(t, "/ws", websocket.Static(websocket.Echo), nil, &websocket.ListenerConfig{
		SecureSocket: &tlsconfig.ListenerSecureSocket{CertKey: &tlsconfig.CertKey{CertFile: certs.ServerCert, KeyFile: certs.ServerKey}},
	})
	tc, err := tls.Dial("tcp", addrOf(l), &tls.Config{RootCAs: certs.CAPool, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	req := "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	tc.Write([]byte(req))
	tc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := tc.Read(buf)
	if err != nil || !bytes.HasPrefix(buf[:n], []byte("HTTP/1.1 101 ")) {
		t.Fatalf("%v %q", err, buf[:n])
	}
	if _, err := websocket.NewListener(0, &websocket.ListenerConfig{SecureSocket: &tlsconfig.ListenerSecureSocket{CertKey: &tlsconfig.CertKey{}}}); err == nil {
		t.Fatal("empty CertKey accepted")
	}
}

// TestAcceptKeepsCause: when Accept cannot take over the connection (here
// an http.ResponseWriter that cannot be hijacked) the *InvalidHandshakeError
// wraps the cause, and the 500 answered to the peer does not carry it.
func TestAcceptKeepsCause(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Sec-WebSocket-Version", "13")
	r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	w := httptest.NewRecorder()
	c, err := websocket.Accept(w, r, nil)
	if err == nil {
		c.Close(netkittest.Context(t), 1000, "")
		t.Fatal("Accept on a recorder succeeded")
	}
	var he *websocket.InvalidHandshakeError
	if !errors.As(err, &he) || he.Status != http.StatusInternalServerError || !errors.Is(err, http.ErrNotSupported) {
		t.Fatalf("Accept: %v", err)
	}
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "hijack") {
		t.Fatalf("answered %d %q", w.Code, w.Body.String())
	}
}
