package cli

import (
	"testing"

	"github.com/netkit-go/netkit/internal/natstest"
	"github.com/netkit-go/netkit/netkittest"
)

// hubChatScript opens the chat page of two hub nodes, types a message on
// the second and waits for it on the first.
const hubChatScript = `
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
    if (process.env.SHOT) await a.screenshot({ path: process.env.SHOT });`

func TestHubChatPageInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	browser := netkittest.RequireChromium(t)

	srv := natstest.Start(t, natstest.Options{})
	a, b := runHub(t, "--nats", srv.URL()), runHub(t, "--nats", srv.URL())
	out, err := browser.Run(t, hubChatScript, "http://"+a+"/", "http://"+b+"/")
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	if want := "GOT:bob: hello across nodes ✓\n"; string(out) != want {
		t.Fatalf("chromium printed:\n%s\nwant:\n%s", out, want)
	}
}
