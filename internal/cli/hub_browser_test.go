package cli

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/natstest"
	"github.com/netkit-go/netkit/netkittest"
)

// hubChatScript opens the chat page of two hub nodes in headless Chromium,
// types a message on the second and waits for it on the first.
const hubChatScript = `
const { chromium } = require('playwright-core');
(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM, args: ['--no-sandbox',
    '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'] });
  try {
    const [a, b] = [await browser.newPage(), await browser.newPage()];
    await a.goto(process.argv[2]);
    await b.goto(process.argv[3]);
    for (const p of [a, b]) await p.waitForFunction(() => document.body.dataset.joined === 'lobby');
    await b.fill('#name', 'bob');
    await b.fill('#msg', 'hello across nodes ✓');
    await b.press('#msg', 'Enter');
    await a.waitForFunction(() => document.getElementById('log').textContent.includes('bob: hello across nodes ✓'),
      null, { timeout: 20000 });
    console.log('GOT:' + await a.$$eval('#log .msg', (els) => els.map((e) => e.textContent).join('|')));
    if (process.env.SHOT) await a.screenshot({ path: process.env.SHOT });
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
`

func TestHubChatPageInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	browser := netkittest.RequireChromium(t)

	srv := natstest.Start(t, natstest.Options{})
	a, b := runHub(t, "--nats", srv.URL()), runHub(t, "--nats", srv.URL())
	script := filepath.Join(t.TempDir(), "hub.js")
	if err := os.WriteFile(script, []byte(hubChatScript), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := browser.Node.Command(ctx, script, "http://"+a+"/", "http://"+b+"/")
	cmd.Env = append(cmd.Env, "CHROMIUM="+browser.Chromium, "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	if want := "GOT:bob: hello across nodes ✓\n"; string(out) != want {
		t.Fatalf("chromium printed:\n%s\nwant:\n%s", out, want)
	}
}
