package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netkit-go/netkit/netkittest"
)

// runChromium runs body, the inside of an async function where `browser`
// is a headless Chromium launched by playwright-core, under node with
// args (process.argv[2] on), and returns what it printed. A thrown error
// exits 1.
func runChromium(t *testing.T, b netkittest.Browser, body string, args ...string) ([]byte, error) {
	t.Helper()
	script := `
const { chromium } = require('playwright-core');
(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM, args: ['--no-sandbox',
    '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'] });
  try {
` + body + `
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
`
	path := filepath.Join(t.TempDir(), "pw.js")
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := b.Node.Command(ctx, append([]string{path}, args...)...)
	cmd.Env = append(cmd.Env, "CHROMIUM="+b.Chromium, "HOME="+t.TempDir())
	return cmd.CombinedOutput()
}

// echoPageScript loads the page served by netkit serve and round-trips
// messages through its WebSocket.
const echoPageScript = `
    const page = await browser.newPage();
    await page.goto(process.argv[2]);
    for (const m of ['hello-chromium', 'ünïcödé ✓', 'x'.repeat(70000)]) {
      const got = await page.evaluate((m) => window.roundTrip(m), m);
      console.log(got === m ? 'ECHO:' + m.slice(0, 20) : 'MISMATCH:' + String(got).slice(0, 20));
    }`

func TestServePageInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	browser := netkittest.RequireChromium(t)

	r := startCommand(t, "serve", "--tcp-port", "0", "--udp-port", "0", "--ws-port", "0")
	out, err := runChromium(t, browser, echoPageScript, "http://"+r.addr(t, "ws")+"/")
	if serr := r.stop(t); serr != nil {
		t.Errorf("serve: %v", serr)
	}
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	want := "ECHO:hello-chromium\nECHO:ünïcödé ✓\nECHO:" + strings.Repeat("x", 20) + "\n"
	if string(out) != want {
		t.Fatalf("chromium printed:\n%s\nwant:\n%s", out, want)
	}
}
