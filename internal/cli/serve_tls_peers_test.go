package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/netkit-go/netkit/netkittest"
)

// The RFC 8441 peers of websocket/testdata/h2peers.
var h2Peers = filepath.Join("..", "..", "websocket", "testdata", "h2peers")

// h2PeerSteps are the steps each h2 peer script runs on every stream.
var h2PeerSteps = []string{"handshake", "text", "binary", "fragmented", "1MiB", "deflate", "ping", "close"}

// pythonWSS checks Python's websockets (HTTP/1.1 only) over wss://.
const pythonWSS = `
import asyncio, sys, websockets
async def main(url):
    async with websockets.connect(url, max_size=1 << 25, compression="deflate") as ws:
        for m in ["hello over http/1.1", b"\x01\x02\x03", "z" * 100000, bytes(1 << 20)]:
            await ws.send(m); assert await ws.recv() == m, type(m)
        await ws.close(1000, "done")
    print("OK")
asyncio.run(asyncio.wait_for(main(sys.argv[1]), 30))
`

// TestServeTLSPeers (acceptance): serve --tls-cert --tls-key, started with
// no GODEBUG, takes Chromium's and Python h2's WebSockets as RFC 8441
// streams of one connection each (text, binary, 1 MiB, deflated, on
// several streams), and Python's websockets over HTTP/1.1 wss:// on the
// same port; its log says which HTTP version each socket came over.
func TestServeTLSPeers(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	if strings.Contains(os.Getenv("GODEBUG"), "http2xconnect") {
		t.Fatal("GODEBUG sets http2xconnect: this test shows that serve needs none")
	}
	browser := netkittest.RequireChromium(t)
	pyH2 := netkittest.RequirePython(t, "h2", "wsproto")
	pyWS := netkittest.RequirePython(t, "websockets")
	certs := netkittest.NewCertificates(t)
	r := startCommand(t, "serve", "--tcp-port", "0", "--udp-port", "0", "--ws-port", "0",
		"--tls-cert", certs.ServerCert, "--tls-key", certs.ServerKey)
	addr := r.addr(t, "wss")
	h2Line := regexp.MustCompile(`msg=connected proto=ws .*path=/ws http=2`)
	h1Line := regexp.MustCompile(`msg=connected proto=ws .*path=/ws http=1\.1`)
	count := func(re *regexp.Regexp) int {
		n := 0
		for _, l := range strings.Split(r.log.String(), "\n") {
			if re.MatchString(l) {
				n++
			}
		}
		return n
	}

	browser.Flags = append(browser.Flags, "--ignore-certificate-errors") // the test certificate
	browser.RunExpect(t, filepath.Join(h2Peers, "chromium_h2.js"), filepath.Join(h2Peers, "chromium_h2.want"),
		"https://"+addr+"/", "wss://"+addr+"/ws")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, pyH2, filepath.Join(h2Peers, "python_h2_client.py"), "https://"+addr+"/ws", "4")
	cmd.Env = append(cmd.Environ(), "NETKIT_CA="+certs.CACert)
	out, err := cmd.CombinedOutput()
	netkittest.CheckPeerSteps(t, string(out), err, 4, h2PeerSteps)
	// Chromium's three sockets (and the page's own) and Python's four.
	r.log.wait(t, h2Line)
	if n := count(h2Line); n < 3+4 {
		t.Fatalf("%d sockets logged as http=2, want at least 7:\n%s", n, r.log.String())
	}
	if n := count(h1Line); n != 0 {
		t.Fatalf("%d sockets logged as http=1.1 before the HTTP/1.1 client ran", n)
	}

	cmd = exec.CommandContext(ctx, pyWS, "-c", pythonWSS, "wss://"+addr+"/ws")
	cmd.Env = append(cmd.Environ(), "SSL_CERT_FILE="+certs.CACert)
	if out, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "OK" {
		t.Fatalf("python websockets over wss://: %v\n%s", err, out)
	}
	r.log.wait(t, h1Line)
	if err := r.stop(t); err != nil {
		t.Fatalf("serve: %v", err)
	}
}
