package cli

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/netkit-go/netkit/netkittest"
)

// playwrightScript loads the page served by netkit serve in headless
// Chromium and round-trips messages through its WebSocket.
const playwrightScript = `
const { chromium } = require(process.env.PLAYWRIGHT_CORE);
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

// playwrightCore finds playwright-core: $NETKIT_NODE_MODULES (set by .ci/run)
// or ~/.cache/netkit-node/node_modules.
func playwrightCore(t *testing.T) string {
	dirs := []string{os.Getenv("NETKIT_NODE_MODULES")}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".cache", "netkit-node", "node_modules"))
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		p := filepath.Join(d, "playwright-core")
		if _, err := os.Stat(filepath.Join(p, "package.json")); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("playwright-core is required in CI (.ci/run installs it into ~/.cache/netkit-node)")
	}
	t.Skip("playwright-core not installed (npm install --prefix ~/.cache/netkit-node playwright-core@1)")
	return ""
}

func TestServePageInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	node := netkittest.RequireTool(t, "node")
	chromium := netkittest.RequireTool(t, "chromium")
	pwCore := playwrightCore(t)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	addrs := watch(t, pr, regexp.MustCompile(`^ws echo listening on ws://(\S+)/ws`))
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"serve", "--tcp-port", "0", "--udp-port", "0", "--ws-port", "0"}, nil, pw, io.Discard)
		pw.Close()
	}()
	m, ok := <-addrs
	if !ok {
		t.Fatalf("serve did not report the ws address: %v", <-done)
	}
	script := filepath.Join(t.TempDir(), "pw.js")
	if err := os.WriteFile(script, []byte(playwrightScript), 0o600); err != nil {
		t.Fatal(err)
	}
	bctx, bcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer bcancel()
	cmd := exec.CommandContext(bctx, node, script, "http://"+m[1]+"/")
	cmd.Env = append(os.Environ(), "PLAYWRIGHT_CORE="+pwCore, "CHROMIUM="+chromium, "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	cancel()
	if serr := <-done; serr != nil {
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
