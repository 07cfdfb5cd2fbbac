package websocket_test

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/tlsconfig"
	"github.com/netkit-go/netkit/websocket"
)

// Interop over HTTP/2 (RFC 8441) with independent clients: Node's built-in
// http2 module with its own WebSocket framer, Python's h2 with wsproto, and
// headless Chromium. Each opens several sockets as streams of one TLS
// connection to a netkit echo listener and round-trips text, binary, a
// fragmented message, 1 MiB and a permessage-deflate message; the server
// side checks that every socket arrived as an extended CONNECT over
// HTTP/2.0. Python's websockets checks that HTTP/1.1 wss:// still works on
// the same port (ALPN fallback).

// arrival is how one socket reached the server: its upgrade request's
// method, protocol version, :protocol and peer address.
type arrival struct {
	method, proto, protocol, remote string
}

// arrivals records the upgrade requests of a listener.
type arrivals struct {
	mu  sync.Mutex
	got []arrival
}

// upgrade returns an UpgradeService that records each request and accepts
// it with s.
func (a *arrivals) upgrade(s websocket.Service) websocket.UpgradeService {
	return websocket.UpgradeFunc(func(r *http.Request, _ http.Header) (websocket.Service, error) {
		a.mu.Lock()
		a.got = append(a.got, arrival{r.Method, r.Proto, r.Header.Get(":protocol"), r.RemoteAddr})
		a.mu.Unlock()
		return s, nil
	})
}

func (a *arrivals) list() []arrival {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]arrival(nil), a.got...)
}

// expect requires n recorded sockets, all with method and proto, all from
// one peer address (one connection) when oneConn.
func (a *arrivals) expect(t *testing.T, n int, method, proto string, oneConn bool) {
	t.Helper()
	got := a.list()
	if len(got) != n {
		t.Fatalf("%d sockets arrived, want %d: %+v", len(got), n, got)
	}
	for _, g := range got {
		if g.method != method || g.proto != proto {
			t.Errorf("a socket arrived as %s %s, want %s %s", g.method, g.proto, method, proto)
		}
		if method == http.MethodConnect && g.protocol != "websocket" {
			t.Errorf(":protocol %q, want websocket", g.protocol)
		}
		if oneConn && g.remote != got[0].remote {
			t.Errorf("sockets came from %s and %s, want one connection", got[0].remote, g.remote)
		}
	}
}

// serveTLS starts a listener with up at /ws like serve, with TLS and the
// test certificates (lc's SecureSocket is replaced).
func serveTLS(t *testing.T, up websocket.UpgradeService, sc *websocket.ServiceConfig, lc *websocket.ListenerConfig) (*websocket.Listener, *netkittest.Certificates) {
	t.Helper()
	certs := netkittest.NewCertificates(t)
	var c websocket.ListenerConfig
	if lc != nil {
		c = *lc
	}
	c.SecureSocket = &tlsconfig.ListenerSecureSocket{
		CertKey: &tlsconfig.CertKey{CertFile: certs.ServerCert, KeyFile: certs.ServerKey},
	}
	return serve(t, "/ws", up, sc, &c), certs
}

// serveEchoTLS starts a TLS echo listener at /ws with the test
// certificates; it records how each socket arrived.
func serveEchoTLS(t *testing.T, sc *websocket.ServiceConfig) (*websocket.Listener, *netkittest.Certificates, *arrivals) {
	t.Helper()
	a := &arrivals{}
	l, certs := serveTLS(t, a.upgrade(websocket.Echo), sc, nil)
	return l, certs, a
}

// h2Steps are the steps each h2 peer script runs on every stream.
var h2Steps = []string{"handshake", "text", "binary", "fragmented", "1MiB", "deflate", "ping", "close"}

// h2PeerTimeout bounds one run of an h2 peer script (1 MiB echoes on
// several streams under -race).
const h2PeerTimeout = 60 * time.Second

func TestH2InteropNodeHTTP2Client(t *testing.T) {
	node := netkittest.RequireNode(t, "http2")
	l, certs, a := serveEchoTLS(t, nil)
	const streams = 4
	out, err := runPeerFor(h2PeerTimeout, func(ctx context.Context) *exec.Cmd {
		cmd := node.Command(ctx, filepath.Join("testdata", "h2peers", "node_h2_client.js"), "https://"+addrOf(l)+"/ws", "4")
		cmd.Env = append(cmd.Env, "NETKIT_CA="+certs.CACert)
		return cmd
	})
	netkittest.CheckPeerSteps(t, out, err, streams, h2Steps)
	a.expect(t, streams, http.MethodConnect, "HTTP/2.0", true)
}

func TestH2InteropPythonH2Client(t *testing.T) {
	python := netkittest.RequirePython(t, "h2", "wsproto")
	// 64 KiB fragments: the 1 MiB echo arrives in 16 frames.
	l, certs, a := serveEchoTLS(t, &websocket.ServiceConfig{FragmentSize: 64 << 10})
	const streams = 4
	out, err := runPeerFor(h2PeerTimeout, func(ctx context.Context) *exec.Cmd {
		cmd := exec.CommandContext(ctx, python, filepath.Join("testdata", "h2peers", "python_h2_client.py"), "https://"+addrOf(l)+"/ws", "4")
		cmd.Env = append(cmd.Environ(), "NETKIT_CA="+certs.CACert)
		return cmd
	})
	netkittest.CheckPeerSteps(t, out, err, streams, h2Steps)
	a.expect(t, streams, http.MethodConnect, "HTTP/2.0", true)
}

// TestH2InteropPythonWebsocketsHTTP1: Python's websockets, which speaks
// only HTTP/1.1, still gets its wss:// socket on the port that serves h2:
// ALPN falls back to http/1.1 and the Upgrade handshake runs as before.
func TestH2InteropPythonWebsocketsHTTP1(t *testing.T) {
	python := netkittest.RequirePython(t, "websockets")
	l, certs, a := serveEchoTLS(t, &websocket.ServiceConfig{FragmentSize: 64 << 10})
	out, err := runPeer(func(ctx context.Context) *exec.Cmd {
		cmd := exec.CommandContext(ctx, python, "-c", pythonClient, "wss://"+addrOf(l)+"/ws")
		// ssl.create_default_context, which websockets uses for wss://,
		// trusts the file OpenSSL's SSL_CERT_FILE names.
		cmd.Env = append(cmd.Environ(), "SSL_CERT_FILE="+certs.CACert)
		return cmd
	})
	if err != nil || strings.TrimSpace(out) != "OK" {
		t.Fatalf("python websockets over wss://: %v\n%s", err, out)
	}
	a.expect(t, 1, http.MethodGet, "HTTP/1.1", true)
}

// TestH2InteropChromiumListener: Chromium loads a page from a TLS
// Listener's Fallback over h2 and carries its WebSockets as extended
// CONNECTs on that same connection.
func TestH2InteropChromiumListener(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	browser := netkittest.RequireChromium(t)
	a := &arrivals{}
	pages := make(chan arrival, 8)
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			pages <- arrival{r.Method, r.Proto, "", r.RemoteAddr}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><title>h2</title><p>netkit over h2</p>")
	})
	l, _ := serveTLS(t, a.upgrade(websocket.Echo), nil, &websocket.ListenerConfig{Fallback: page})
	browser.Flags = append(browser.Flags, "--ignore-certificate-errors") // the test certificate
	browser.RunExpect(t, filepath.Join("testdata", "h2peers", "chromium_h2.js"), filepath.Join("testdata", "h2peers", "chromium_h2.want"),
		"https://"+addrOf(l)+"/", "wss://"+addrOf(l)+"/ws")
	a.expect(t, 3, http.MethodConnect, "HTTP/2.0", true)
	p := recv(t, pages)
	if p.proto != "HTTP/2.0" {
		t.Fatalf("the page came over %s, want HTTP/2.0", p.proto)
	}
	if got := a.list()[0].remote; got != p.remote {
		t.Fatalf("the sockets came from %s, the page from %s: want the page's connection", got, p.remote)
	}
}

// TestH2InteropChromiumHandlerMount: the documented user path. A Handler
// on the program's own http.Server given to ConfigureHTTP2, beside a page
// handler on the same mux: Chromium loads the page over h2 and opens its
// WebSockets as extended CONNECTs on that connection.
func TestH2InteropChromiumHandlerMount(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	browser := netkittest.RequireChromium(t)
	a := &arrivals{}
	h := websocket.NewHandler(a.upgrade(websocket.Echo), &websocket.ServiceConfig{Logger: quietLogger})
	pages := make(chan arrival, 8)
	mux := http.NewServeMux()
	mux.Handle("/ws", h)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			pages <- arrival{r.Method, r.Proto, "", r.RemoteAddr}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><title>h2</title><p>a user's server</p>")
	})
	serverTLS, _ := netkittest.TLSPair(t)
	addr := h2MountServer(t, mux, serverTLS, h.ImmediateStop)
	browser.Flags = append(browser.Flags, "--ignore-certificate-errors") // the test certificate
	browser.RunExpect(t, filepath.Join("testdata", "h2peers", "chromium_h2.js"), filepath.Join("testdata", "h2peers", "chromium_h2.want"),
		"https://"+addr+"/", "wss://"+addr+"/ws")
	a.expect(t, 3, http.MethodConnect, "HTTP/2.0", true)
	if p := recv(t, pages); p.proto != "HTTP/2.0" || p.remote != a.list()[0].remote {
		t.Fatalf("the page came over %s from %s, the sockets from %s: want one HTTP/2.0 connection", p.proto, p.remote, a.list()[0].remote)
	}
}
