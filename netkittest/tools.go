package netkittest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Checks for the external peers of interop tests. Each Require* function
// returns what the test needs to run the peer when every part of it is
// present (the program and the modules it loads). When a part is missing
// the test is skipped with a reason that names the part and how to install
// it, except when the environment variable CI is set: there the peers are
// part of the suite's contract (.ci/run installs them) and the test fails
// instead. Results are cached per process, so a check runs its probe once.

// missing skips tb (or fails it in CI) because of what is missing.
func missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		tb.Fatalf("%s; it is required in CI (.ci/run installs it)", msg)
	}
	tb.Skipf("%s (bash .ci/run installs the interop peers)", msg)
}

// probes caches the result of each check: key → error (nil: present).
var probes sync.Map

type probeResult struct {
	once  sync.Once
	value string
	err   error
}

// probe runs f once per key and caches its result.
func probe(key string, f func() (string, error)) (string, error) {
	v, _ := probes.LoadOrStore(key, &probeResult{})
	r := v.(*probeResult)
	r.once.Do(func() { r.value, r.err = f() })
	return r.value, r.err
}

// probeTimeout bounds each probe of an external program.
const probeTimeout = 20 * time.Second

// runProbe runs a program that checks a peer and returns its error with its
// output's last line.
func runProbe(env []string, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		// The line that names the error: node prints "Error: Cannot find
		// module 'ws'" before its stack, python its ModuleNotFoundError last.
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		why := lines[len(lines)-1]
		for _, l := range lines {
			if strings.Contains(l, "Error") {
				why = l
				break
			}
		}
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(why))
	}
	return nil
}

// RequireTool returns the path of the external program name (for example
// "socat" or "openssl"), or skips the test when it is not installed. For
// programs that need modules use [RequireNode], [RequirePython] or
// [RequireChromium], which check the modules too.
func RequireTool(tb testing.TB, name string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		missing(tb, "%s not installed: %v", name, err)
		return ""
	}
	return path
}

// Node is a node binary under which a set of modules resolves.
type Node struct {
	// Path is the node binary.
	Path string
	// NodePath is the NODE_PATH under which the modules resolve: Debian's
	// module directories (node-ws installs into /usr/share/nodejs),
	// $NETKIT_NODE_MODULES, ~/.cache/netkit-node/node_modules (where .ci/run
	// installs playwright-core) and the environment's NODE_PATH.
	NodePath string
}

// Command returns a command running node with args and NODE_PATH set,
// bounded by ctx.
func (n Node) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, n.Path, args...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+n.NodePath)
	return cmd
}

// nodePath lists the directories node should search for modules.
func nodePath() string {
	var dirs []string
	add := func(d string) {
		if d == "" {
			return
		}
		if _, err := os.Stat(d); err == nil {
			dirs = append(dirs, d)
		}
	}
	for _, d := range []string{"/usr/share/nodejs", "/usr/lib/nodejs", "/usr/lib/node_modules", "/usr/local/lib/node_modules"} {
		add(d)
	}
	add(os.Getenv("NETKIT_NODE_MODULES"))
	if home, err := os.UserHomeDir(); err == nil {
		add(filepath.Join(home, ".cache", "netkit-node", "node_modules"))
	}
	if p := os.Getenv("NODE_PATH"); p != "" {
		dirs = append(dirs, p)
	}
	return strings.Join(dirs, string(os.PathListSeparator))
}

// RequireNode returns node when it is installed and every one of modules
// resolves (for example "ws", or "playwright-core"); otherwise the test is
// skipped, naming the missing module.
func RequireNode(tb testing.TB, modules ...string) Node {
	tb.Helper()
	node := RequireTool(tb, "node")
	if node == "" {
		return Node{}
	}
	n := Node{Path: node, NodePath: nodePath()}
	for _, m := range modules {
		_, err := probe("node\x00"+n.NodePath+"\x00"+m, func() (string, error) {
			return "", runProbe(append(os.Environ(), "NODE_PATH="+n.NodePath), node, "-e", "require.resolve(process.argv[1])", m)
		})
		if err != nil {
			missing(tb, "node is installed but its module %q does not resolve (NODE_PATH=%s; Debian: apt-get install node-%s, or npm install --prefix ~/.cache/netkit-node %s): %v", m, n.NodePath, m, m, err)
			return Node{}
		}
	}
	return n
}

// RequirePython returns a python3 interpreter that imports every one of
// modules (for example "websockets"). /usr/bin/python3 is tried first, as
// Debian's python3-* packages install for it, then python3 on PATH;
// otherwise the test is skipped, naming the missing module.
func RequirePython(tb testing.TB, modules ...string) string {
	tb.Helper()
	var candidates []string
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		candidates = append(candidates, "/usr/bin/python3")
	}
	if p, err := exec.LookPath("python3"); err == nil && p != "/usr/bin/python3" {
		candidates = append(candidates, p)
	}
	if len(candidates) == 0 {
		missing(tb, "python3 not installed")
		return ""
	}
	imports := "import " + strings.Join(modules, ", ")
	py, err := probe("python\x00"+imports, func() (string, error) {
		var errs []string
		for _, c := range candidates {
			if len(modules) == 0 {
				return c, nil
			}
			err := runProbe(os.Environ(), c, "-c", imports)
			if err == nil {
				return c, nil
			}
			errs = append(errs, c+": "+err.Error())
		}
		return "", fmt.Errorf("%s", strings.Join(errs, "; "))
	})
	if err != nil {
		missing(tb, "no python3 can %q (Debian: apt-get install python3-%s): %v", imports, strings.Join(modules, " python3-"), err)
		return ""
	}
	return py
}

// Browser is a headless Chromium driven by playwright-core under node.
type Browser struct {
	// Node runs the driver script; playwright-core resolves under it.
	Node Node
	// Chromium is the browser binary, passed to playwright-core's
	// chromium.launch as executablePath (it downloads no browser).
	Chromium string
	// Flags are extra Chromium command-line flags for [Browser.Run], for
	// example "--ignore-certificate-errors" for a server with a test
	// certificate.
	Flags []string
}

// browserRunTimeout bounds one [Browser.Run].
const browserRunTimeout = 60 * time.Second

// Run runs body, the inside of an async function where `browser` is a
// headless Chromium launched by playwright-core, under node with args
// (process.argv[2] on), and returns what it printed on stdout and stderr.
// A thrown error exits 1. The run is bounded by 60 s; the browser gets a
// fresh HOME in tb's temporary directory.
func (b Browser) Run(tb testing.TB, body string, args ...string) ([]byte, error) {
	tb.Helper()
	script := `
const { chromium } = require('playwright-core');
(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM, args: ['--no-sandbox',
    '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', ...JSON.parse(process.env.CHROMIUM_FLAGS || '[]')] });
  try {
` + body + `
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
`
	path := filepath.Join(tb.TempDir(), "pw.js")
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		tb.Fatal(err)
	}
	flags, err := json.Marshal(append([]string{}, b.Flags...))
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), browserRunTimeout)
	defer cancel()
	cmd := b.Node.Command(ctx, append([]string{path}, args...)...)
	cmd.Env = append(cmd.Env, "CHROMIUM="+b.Chromium, "CHROMIUM_FLAGS="+string(flags), "HOME="+tb.TempDir())
	return cmd.CombinedOutput()
}

// RequireChromium returns a Browser when chromium, node and node's
// playwright-core module are all installed; otherwise the test is skipped,
// naming the missing part.
func RequireChromium(tb testing.TB) Browser {
	tb.Helper()
	var chromium string
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			chromium = p
			break
		}
	}
	if chromium == "" {
		missing(tb, "chromium not installed (Debian: apt-get install chromium)")
		return Browser{}
	}
	n := RequireNode(tb, "playwright-core")
	if n.Path == "" {
		return Browser{}
	}
	return Browser{Node: n, Chromium: chromium}
}

// RunExpect runs the script file (the body for [Browser.Run]) with args
// and requires its output to equal the content of the file want.
func (b Browser) RunExpect(tb testing.TB, script, want string, args ...string) {
	tb.Helper()
	body, err := os.ReadFile(script)
	if err != nil {
		tb.Fatal(err)
	}
	w, err := os.ReadFile(want)
	if err != nil {
		tb.Fatal(err)
	}
	out, err := b.Run(tb, string(body), args...)
	if err != nil {
		tb.Fatalf("chromium: %v\n%s", err, out)
	}
	if string(out) != string(w) {
		tb.Fatalf("chromium printed:\n%s\nwant (%s):\n%s", out, filepath.Base(want), w)
	}
}

// PeerStep is one JSON line of a peer script that reports steps, such as
// websocket/testdata/h2peers': {"stream":N,"step":S,"ok":B} for each step,
// then {"done":true,"ok":B}.
type PeerStep struct {
	Stream *int   `json:"stream"`
	Step   string `json:"step"`
	OK     bool   `json:"ok"`
	Done   bool   `json:"done"`
	Error  string `json:"error"`
}

// CheckPeerSteps requires out, the output of a peer script run that ended
// with runErr, to be JSON step lines that all passed, the last reporting
// done; streams 0..streams-1 must each have passed every one of steps.
func CheckPeerSteps(tb testing.TB, out string, runErr error, streams int, steps []string) {
	tb.Helper()
	passed := map[int]map[string]bool{}
	var done *PeerStep
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var p PeerStep
		if err := json.Unmarshal([]byte(l), &p); err != nil {
			tb.Errorf("peer printed %q (not a JSON step line)", l)
			continue
		}
		switch {
		case p.Done:
			done = &p
		case !p.OK:
			tb.Errorf("peer step failed: %s", l)
		case p.Stream != nil:
			if passed[*p.Stream] == nil {
				passed[*p.Stream] = map[string]bool{}
			}
			passed[*p.Stream][p.Step] = true
		}
	}
	if runErr != nil || done == nil || !done.OK {
		tb.Fatalf("peer: %v (done line %+v)\n%s", runErr, done, out)
	}
	for i := 0; i < streams; i++ {
		for _, s := range steps {
			if !passed[i][s] {
				tb.Errorf("stream %d: step %s did not pass", i, s)
			}
		}
	}
}

// Peer is an external peer process started by [StartPeer].
type Peer struct {
	// FirstLine is the first line the peer wrote to stdout (for example
	// the port it listens on).
	FirstLine string
	stderr    *lockedBuffer
	exited    chan struct{}
}

// Stderr returns what the peer wrote to stderr so far. It is safe to call
// while the peer runs.
func (p *Peer) Stderr() string { return p.stderr.String() }

// lockedBuffer is a bytes.Buffer that a process's stderr copier and a test
// may use at the same time.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// StartPeer starts cmd (its Stdout and Stderr must be unset), waits up to
// timeout for the first line on its stdout and returns the running peer.
// Without a cmd.Stdin the peer's stdin is a pipe that stays open until
// cleanup, for peers that exit at the end of their input.
// The rest of stdout is discarded; stderr is kept for failure messages. The
// peer is killed at the test's cleanup. If it exits or stays silent, the test
// fails with the peer's stderr, read after the process has ended.
func StartPeer(tb testing.TB, cmd *exec.Cmd, timeout time.Duration) *Peer {
	tb.Helper()
	p := &Peer{stderr: &lockedBuffer{}, exited: make(chan struct{})}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = p.stderr
	var stdin io.Closer
	if cmd.Stdin == nil {
		if stdin, err = cmd.StdinPipe(); err != nil {
			tb.Fatal(err)
		}
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", filepath.Base(cmd.Path), err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		for sc.Scan() {
		}
		io.Copy(io.Discard, out) // after an overlong line
		// Wait closes the pipe once the copier ends; read it to EOF first.
		cmd.Wait()
		close(p.exited)
	}()
	stop := func() {
		if stdin != nil {
			stdin.Close()
		}
		cmd.Process.Kill()
		<-p.exited
	}
	tb.Cleanup(stop)
	select {
	case l, ok := <-lines:
		if !ok {
			stop()
			tb.Fatalf("%s exited before printing a line: %v\n%s", filepath.Base(cmd.Path), cmd.ProcessState, p.Stderr())
		}
		p.FirstLine = strings.TrimSpace(l)
		return p
	case <-time.After(timeout):
		stop()
		tb.Fatalf("%s printed nothing within %v\n%s", filepath.Base(cmd.Path), timeout, p.Stderr())
	}
	return nil
}
