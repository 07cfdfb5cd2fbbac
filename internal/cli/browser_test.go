package cli

import (
	"strings"
	"testing"

	"github.com/netkit-go/netkit/netkittest"
)

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
	out, err := browser.Run(t, echoPageScript, "http://"+r.addr(t, "ws")+"/")
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
