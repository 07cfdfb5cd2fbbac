package websocket_test

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/tlsconfig"
	"github.com/netkit-go/netkit/websocket"
)

// clProxy is a CONNECT proxy written for the tests. It records each
// request's target and Proxy-Authorization, and refuses targets when
// refuse is set.
type clProxy struct {
	url    *url.URL
	ln     net.Listener
	wg     sync.WaitGroup
	mu     sync.Mutex
	seen   []string // "target|auth"
	refuse bool
	tls    *tls.Config // an https proxy when set
}

func newCLProxy(t *testing.T) *clProxy { return newCLProxyTLS(t, nil) }

func newCLProxyTLS(t *testing.T, conf *tls.Config) *clProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &clProxy{ln: ln, tls: conf, url: &url.URL{Scheme: "http", Host: ln.Addr().String(), User: url.UserPassword("pu", "pp")}}
	if conf != nil {
		p.url.Scheme = "https"
	}
	var conns []net.Conn
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			conns = append(conns, nc)
			p.mu.Unlock()
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.serve(nc, &conns)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *clProxy) serve(tcpConn net.Conn, conns *[]net.Conn) {
	var nc net.Conn = tcpConn
	if p.tls != nil {
		nc = tls.Server(tcpConn, p.tls)
	}
	defer nc.Close()
	br := bufio.NewReader(nc)
	req, err := http.ReadRequest(br)
	if err != nil || req.Method != http.MethodConnect {
		io.WriteString(nc, "HTTP/1.1 405 Method Not Allowed\r\n\r\n")
		return
	}
	p.mu.Lock()
	p.seen = append(p.seen, req.Host+"|"+req.Header.Get("Proxy-Authorization"))
	refuse := p.refuse
	p.mu.Unlock()
	if refuse {
		io.WriteString(nc, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
		return
	}
	up, err := net.Dial("tcp", req.Host)
	if err != nil {
		io.WriteString(nc, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return
	}
	p.mu.Lock()
	*conns = append(*conns, up)
	p.mu.Unlock()
	defer up.Close()
	io.WriteString(nc, "HTTP/1.1 200 Connection established\r\n\r\n")
	done := make(chan struct{})
	go func() {
		io.Copy(up, br)
		up.(*net.TCPConn).CloseWrite()
		close(done)
	}()
	io.Copy(nc, up)
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	<-done
}

func (p *clProxy) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

// TestClientProxy: ws and wss through a CONNECT proxy, text and binary;
// behind the proxy, TLS's SNI and verification use the target's name and
// ALPN offers http/1.1 only.
func TestClientProxy(t *testing.T) {
	proxy := newCLProxy(t)
	ctx := testCtx(t)
	wsURL := clEchoURL(t)
	c := clDial(t, wsURL, &websocket.ClientConfig{Proxy: http.ProxyURL(proxy.url)})
	c.WriteTextMessage(ctx, []byte("via proxy"))
	if s, err := c.ReadTextMessage(ctx); err != nil || string(s) != "via proxy" {
		t.Fatalf("%q %v", s, err)
	}
	c.WriteBinaryMessage(ctx, []byte{9, 8, 7})
	if b, err := c.ReadBinaryMessage(ctx); err != nil || string(b) != "\x09\x08\x07" {
		t.Fatalf("%v %v", b, err)
	}
	target := strings.TrimSuffix(strings.TrimPrefix(wsURL, "ws://"), "/echo")
	if r := proxy.requests(); len(r) != 1 || r[0] != target+"|Basic cHU6cHA=" {
		t.Fatalf("proxy saw %q", r)
	}

	// wss through the proxy.
	certs := netkittest.NewCertificates(t)
	type hello struct {
		sni   string
		alpn  []string
		error bool
	}
	hellos := make(chan hello, 4)
	l, err := websocket.NewListener(0, &websocket.ListenerConfig{Host: "127.0.0.1", Logger: quietLogger, TLSConfig: &tls.Config{
		Certificates: []tls.Certificate{certs.Server},
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			hellos <- hello{sni: h.ServerName, alpn: h.SupportedProtos}
			return nil, nil
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Attach("/secure", websocket.Static(websocket.Echo), &websocket.ServiceConfig{Logger: quietLogger}); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.ImmediateStop() })
	_, port, _ := net.SplitHostPort(l.Addr().String())
	secureURL := "wss://localhost:" + port + "/secure"
	// The proxy dials "localhost": make sure it reaches 127.0.0.1.
	sc := &tlsconfig.ClientSecureSocket{Cert: certs.CACert}
	cs := clDial(t, secureURL, &websocket.ClientConfig{Proxy: http.ProxyURL(proxy.url), SecureSocket: sc})
	h := <-hellos
	if h.sni != "localhost" || len(h.alpn) != 1 || h.alpn[0] != "http/1.1" {
		t.Fatalf("ClientHello SNI %q ALPN %q", h.sni, h.alpn)
	}
	if !cs.IsSecure() || cs.TLS() == nil {
		t.Fatal("not secure")
	}
	cs.WriteTextMessage(ctx, []byte("secret"))
	if s, err := cs.ReadTextMessage(ctx); err != nil || string(s) != "secret" {
		t.Fatalf("%q %v", s, err)
	}

	// An https proxy (verified with the same SecureSocket), ws inside.
	hp := newCLProxyTLS(t, &tls.Config{Certificates: []tls.Certificate{certs.Server}})
	ch := clDial(t, wsURL, &websocket.ClientConfig{Proxy: http.ProxyURL(hp.url), SecureSocket: sc})
	if ch.IsSecure() {
		t.Fatal("ws through an https proxy reported secure")
	}
	ch.WriteTextMessage(ctx, []byte("https proxy"))
	if s, err := ch.ReadTextMessage(ctx); err != nil || string(s) != "https proxy" {
		t.Fatalf("%q %v", s, err)
	}
	if r := hp.requests(); len(r) != 1 || !strings.HasPrefix(r[0], target+"|") {
		t.Fatalf("https proxy saw %q", r)
	}

	// A proxy that refuses.
	proxy.mu.Lock()
	proxy.refuse = true
	proxy.mu.Unlock()
	_, err = websocket.Dial(ctx, wsURL, &websocket.ClientConfig{Proxy: http.ProxyURL(proxy.url)})
	var pe *websocket.ProxyError
	if !errors.As(err, &pe) || pe.Status != 403 {
		t.Fatalf("refusing proxy: %v", err)
	}
}

// TestClientTLS: wss with a PEM trust, a PKCS#12 trust store, mutual TLS,
// host-name verification, and a certificate from an unknown CA.
func TestClientTLS(t *testing.T) {
	certs := netkittest.NewCertificates(t)
	l, err := websocket.NewListener(0, &websocket.ListenerConfig{Host: "127.0.0.1", Logger: quietLogger,
		SecureSocket: &tlsconfig.ListenerSecureSocket{
			CertKey:   &tlsconfig.CertKey{CertFile: certs.ServerCert, KeyFile: certs.ServerKey},
			MutualSSL: &tlsconfig.MutualSSL{Verify: tlsconfig.Optional, Cert: certs.CACert},
		}})
	if err != nil {
		t.Fatal(err)
	}
	peer := make(chan int, 8)
	up := websocket.UpgradeFunc(func(r *http.Request, h http.Header) (websocket.Service, error) {
		peer <- len(r.TLS.PeerCertificates)
		return websocket.Echo, nil
	})
	if err := l.Attach("/tls", up, &websocket.ServiceConfig{Logger: quietLogger}); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.ImmediateStop() })
	_, port, _ := net.SplitHostPort(l.Addr().String())
	ctx := testCtx(t)
	roundTrip := func(url string, ss *tlsconfig.ClientSecureSocket) error {
		c, err := websocket.Dial(ctx, url, &websocket.ClientConfig{SecureSocket: ss})
		if err != nil {
			return err
		}
		defer c.Close(ctx, 1000, "")
		if !c.IsSecure() {
			t.Error("IsSecure false on wss")
		}
		if err := c.WriteTextMessage(ctx, []byte("tls")); err != nil {
			return err
		}
		if s, err := c.ReadTextMessage(ctx); err != nil || string(s) != "tls" {
			t.Errorf("%q %v", s, err)
		}
		return nil
	}
	local := "wss://localhost:" + port + "/tls"
	if err := roundTrip(local, &tlsconfig.ClientSecureSocket{Cert: certs.CACert}); err != nil {
		t.Fatalf("PEM trust: %v", err)
	}
	if n := <-peer; n != 0 {
		t.Fatalf("client cert sent without one configured: %d", n)
	}
	if err := roundTrip(local, &tlsconfig.ClientSecureSocket{TrustStore: &tlsconfig.TrustStore{Path: certs.TrustStore, Password: netkittest.StorePassword}}); err != nil {
		t.Fatalf("PKCS#12 trust store: %v", err)
	}
	<-peer
	if err := roundTrip(local, &tlsconfig.ClientSecureSocket{Cert: certs.CACert,
		CertKey: &tlsconfig.CertKey{CertFile: certs.ClientCert, KeyFile: certs.ClientKey}}); err != nil {
		t.Fatalf("mutual TLS: %v", err)
	}
	if n := <-peer; n != 1 {
		t.Fatalf("server saw %d client certificates", n)
	}
	// The certificate is for localhost and 127.0.0.1, not for this name.
	misnamed := &tlsconfig.ClientSecureSocket{Cert: certs.CACert, ServerName: "other.example"}
	if err := roundTrip(local, misnamed); err == nil {
		t.Fatal("host-name verification passed for another name")
	}
	if err := roundTrip(local, &tlsconfig.ClientSecureSocket{Cert: certs.CACert, ServerName: "other.example", SkipHostNameVerification: true}); err != nil {
		t.Fatalf("SkipHostNameVerification: %v", err)
	}
	<-peer
	if err := roundTrip(local, &tlsconfig.ClientSecureSocket{Cert: certs.OtherCACert}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("unknown CA: %v", err)
	}
	// No SecureSocket: the system roots, which do not know the test CA.
	if err := roundTrip(local, nil); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("system roots: %v", err)
	}
	// Disable: plain TCP against a TLS server fails the handshake.
	if err := roundTrip(local, &tlsconfig.ClientSecureSocket{Disable: true}); err == nil {
		t.Fatal("plain TCP to a TLS server worked")
	}
}

// TestClientOAuth2: the client-credentials token is fetched from the token
// endpoint and sent as a bearer token; a failing endpoint is ErrAuth.
func TestClientOAuth2(t *testing.T) {
	var tokenRequests int
	var mu sync.Mutex
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		id, secret, _ := r.BasicAuth()
		if r.Form.Get("grant_type") != "client_credentials" || id != "cid" || secret != "csecret" {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		mu.Lock()
		tokenRequests++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "oauth-token", "token_type": "Bearer", "expires_in": 3600})
	}))
	defer ts.Close()
	defer ts.CloseClientConnections()
	auths := make(chan string, 4)
	up := websocket.UpgradeFunc(func(r *http.Request, h http.Header) (websocket.Service, error) {
		auths <- r.Header.Get("Authorization")
		if r.Header.Get("Authorization") != "Bearer oauth-token" {
			return nil, &websocket.AuthnError{Message: "bad token"}
		}
		return websocket.Echo, nil
	})
	url := clServe(t, "/oauth", up, nil)
	auth := &websocket.OAuth2ClientCredentials{TokenURL: ts.URL, ClientID: "cid", ClientSecret: "csecret", HTTPClient: ts.Client()}
	clDial(t, url, &websocket.ClientConfig{Auth: auth})
	clDial(t, url, &websocket.ClientConfig{Auth: auth})
	if a := <-auths; a != "Bearer oauth-token" {
		t.Fatalf("server saw %q", a)
	}
	<-auths
	mu.Lock()
	n := tokenRequests
	mu.Unlock()
	if n != 1 {
		t.Fatalf("%d token requests, want 1 (cached)", n)
	}
	bad := &websocket.OAuth2ClientCredentials{TokenURL: ts.URL, ClientID: "cid", ClientSecret: "wrong", HTTPClient: ts.Client()}
	_, err := websocket.Dial(testCtx(t), url, &websocket.ClientConfig{Auth: bad})
	if !errors.Is(err, websocket.ErrAuth) || !strings.HasPrefix(err.Error(), "websocket: auth failed: ") {
		t.Fatalf("bad credentials: %v", err)
	}
	// A wrong bearer token gets 401 in the handshake.
	_, err = websocket.Dial(testCtx(t), url, &websocket.ClientConfig{Auth: websocket.BearerAuth{Token: "nope"}})
	var he *websocket.InvalidHandshakeError
	if !errors.As(err, &he) || he.Status != 401 {
		t.Fatalf("wrong token: %v", err)
	}
	<-auths
}
