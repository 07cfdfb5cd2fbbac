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

// playwrightScript loads the page served by netkit serve in headless
// Chromium and round-trips messages through its WebSocket.
const playwrightScript = `
const { chromium } = require('playwright-core');
(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM, args: ['--no-sandbox',
    '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'] });
  try {
    const page = await browser.newPage();
    await page.goto(process.argv[2]);
    for (const m of ['hello-chromium', 'ünïcödé ✓', 'x'.repeat(70000)]) {
      const got = await page.evaluate((m) => window.roundTrip(m), m);
      console.log(got === m ? 'ECHO:' + m.slice(0, 20) : 'MISMATCH:' + String(got).slice(0, 20));
    }
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
`

func TestServePageInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	browser := netkittest.RequireChromium(t)

	r := startCommand(t, "serve", "--tcp-port", "0", "--udp-port", "0", "--ws-port", "0")
	addr := r.addr(t, "ws")
	script := filepath.Join(t.TempDir(), "pw.js")
	if err := os.WriteFile(script, []byte(playwrightScript), 0o600); err != nil {
		t.Fatal(err)
	}
	bctx, bcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer bcancel()
	cmd := browser.Node.Command(bctx, script, "http://"+addr+"/")
	cmd.Env = append(cmd.Env, "CHROMIUM="+browser.Chromium, "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
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
