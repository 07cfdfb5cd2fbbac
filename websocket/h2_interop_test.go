package websocket_test

import (
	"context"
	"encoding/json"
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

// peerLine is one JSON line of an h2 peer script (testdata/h2peers).
type peerLine struct {
	Stream *int   `json:"stream"`
	Step   string `json:"step"`
	OK     bool   `json:"ok"`
	Done   bool   `json:"done"`
	Error  string `json:"error"`
}

// checkPeerLines requires every line of out to be a passing step and the
// last to report done; each of the streams must have passed every one of
// steps.
func checkPeerLines(t *testing.T, out string, runErr error, streams int, steps []string) {
	t.Helper()
	passed := map[int]map[string]bool{}
	var done *peerLine
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var p peerLine
		if err := json.Unmarshal([]byte(l), &p); err != nil {
			t.Errorf("peer printed %q (not a JSON result line)", l)
			continue
		}
		switch {
		case p.Done:
			done = &p
		case !p.OK:
			t.Errorf("peer step failed: %s", l)
		case p.Stream != nil:
			if passed[*p.Stream] == nil {
				passed[*p.Stream] = map[string]bool{}
			}
			passed[*p.Stream][p.Step] = true
		}
	}
	if runErr != nil || done == nil || !done.OK {
		t.Fatalf("peer: %v (done line %+v)\n%s", runErr, done, out)
	}
	for i := 0; i < streams; i++ {
		for _, s := range steps {
			if !passed[i][s] {
				t.Errorf("stream %d: step %s did not pass", i, s)
			}
		}
	}
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
	checkPeerLines(t, out, err, streams, h2Steps)
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
	checkPeerLines(t, out, err, streams, h2Steps)
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

// chromiumH2Script loads the page over HTTPS (argv[2]), prints the HTTP
// version it came over, then opens three WebSockets to argv[3] at once and
// round-trips text, binary, 1 MiB and a compressible text on each (Chromium
// always offers permessage-deflate), then closes them with 1000.
const chromiumH2Script = `
    const page = await browser.newPage();
    await page.goto(process.argv[2]);
    console.log('PAGE:' + await page.evaluate(() => performance.getEntriesByType('navigation')[0].nextHopProtocol));
    const results = await page.evaluate(async (url) => {
      const big = new Uint8Array(1 << 20);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 255;
      const open = () => new Promise((res, rej) => {
        const ws = new WebSocket(url); ws.binaryType = 'arraybuffer';
        ws.onopen = () => res(ws); ws.onerror = () => rej(new Error('websocket error'));
      });
      const rt = (ws, m) => new Promise((res) => { ws.onmessage = (e) => res(e.data); ws.send(m); });
      const eq = (a, b) => { a = new Uint8Array(a); if (a.length !== b.length) return false;
        for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false; return true; };
      const out = [];
      const socks = await Promise.all([0, 1, 2].map(open));
      for (const [i, ws] of socks.entries()) {
        const t = 'hello chromium over h2 ' + i + ' \u2713';
        out.push(i + ' text ' + ((await rt(ws, t)) === t));
        const b = new Uint8Array([1, 2, 3, i]);
        out.push(i + ' binary ' + eq(await rt(ws, b), b));
        out.push(i + ' 1MiB ' + eq(await rt(ws, big), big));
        const z = ('z'.repeat(50) + i).repeat(2000);
        out.push(i + ' deflate ' + ((await rt(ws, z)) === z) + ' ' + ws.extensions.split(';')[0]);
      }
      const codes = await Promise.all(socks.map((ws) => new Promise((res) => {
        ws.onclose = (e) => res(e.code); ws.close(1000, 'done'); })));
      out.push('close ' + codes.join(','));
      return out;
    }, process.argv[3]);
    for (const l of results) console.log(l);`

// chromiumH2Want is what chromiumH2Script prints when everything passed.
const chromiumH2Want = `PAGE:h2
0 text true
0 binary true
0 1MiB true
0 deflate true permessage-deflate
1 text true
1 binary true
1 1MiB true
1 deflate true permessage-deflate
2 text true
2 binary true
2 1MiB true
2 deflate true permessage-deflate
close 1000,1000,1000
`

// runChromiumH2 runs chromiumH2Script against page and ws URLs with a
// test certificate (Chromium ignores certificate errors).
func runChromiumH2(t *testing.T, b netkittest.Browser, page, ws string) {
	t.Helper()
	b.Flags = append(b.Flags, "--ignore-certificate-errors")
	out, err := b.Run(t, chromiumH2Script, page, ws)
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	if string(out) != chromiumH2Want {
		t.Fatalf("chromium printed:\n%s\nwant:\n%s", out, chromiumH2Want)
	}
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
	runChromiumH2(t, browser, "https://"+addrOf(l)+"/", "wss://"+addrOf(l)+"/ws")
	a.expect(t, 3, http.MethodConnect, "HTTP/2.0", true)
	p := recv(t, pages)
	if p.proto != "HTTP/2.0" {
		t.Fatalf("the page came over %s, want HTTP/2.0", p.proto)
	}
	if got := a.list()[0].remote; got != p.remote {
		t.Fatalf("the sockets came from %s, the page from %s: want the page's connection", got, p.remote)
	}
}
