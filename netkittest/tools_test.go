package netkittest

import (
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fakeTB records what a check does to its test: Skipf and Fatalf end the
// calling goroutine, as the real ones do.
type fakeTB struct {
	testing.TB
	skipped, failed string
	cleanups        []func()
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Skipf(format string, args ...any) {
	f.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fakeTB) Fatal(args ...any) {
	f.failed = fmt.Sprint(args...)
	runtime.Goexit()
}

func (f *fakeTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }

// runFake runs fn with a fakeTB on its own goroutine, then the cleanups.
func runFake(t *testing.T, fn func(tb testing.TB)) *fakeTB {
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
	return f
}

func TestRequireMissingSkipsWithReason(t *testing.T) {
	t.Setenv("CI", "")
	cases := []struct {
		name  string
		check func(tb testing.TB)
		want  string
	}{
		{"tool", func(tb testing.TB) { RequireTool(tb, "netkit-no-such-tool") }, "netkit-no-such-tool not installed"},
		{"node module", func(tb testing.TB) { RequireNode(tb, "netkit-no-such-module") }, "netkit-no-such-module"},
		{"python module", func(tb testing.TB) { RequirePython(tb, "netkit_no_such_module") }, "netkit_no_such_module"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := runFake(t, c.check)
			if f.failed != "" || f.skipped == "" {
				t.Fatalf("skipped %q, failed %q", f.skipped, f.failed)
			}
			// node or python3 itself may be what is missing on this machine.
			if !strings.Contains(f.skipped, c.want) && !strings.Contains(f.skipped, "not installed") {
				t.Fatalf("skip reason %q does not name %q", f.skipped, c.want)
			}
		})
	}
}

func TestRequireMissingFailsInCI(t *testing.T) {
	t.Setenv("CI", "true")
	f := runFake(t, func(tb testing.TB) { RequireTool(tb, "netkit-no-such-tool") })
	if f.skipped != "" || !strings.Contains(f.failed, "required in CI") {
		t.Fatalf("skipped %q, failed %q", f.skipped, f.failed)
	}
}

func TestRequirePresent(t *testing.T) {
	sh := RequireTool(t, "sh")
	if sh == "" {
		t.Fatal("no path")
	}
	// A module every node has.
	if _, err := exec.LookPath("node"); err == nil {
		if n := RequireNode(t, "fs"); n.Path == "" {
			t.Fatal("RequireNode returned no node")
		}
	}
	if _, err := exec.LookPath("python3"); err == nil {
		if p := RequirePython(t, "json"); p == "" {
			t.Fatal("RequirePython returned no python")
		}
	}
}

func TestStartPeerFirstLine(t *testing.T) {
	sh := RequireTool(t, "sh")
	p := StartPeer(t, exec.Command(sh, "-c", "echo 4242; echo more; echo chatter >&2"), 10*time.Second)
	if p.FirstLine != "4242" {
		t.Fatalf("first line %q", p.FirstLine)
	}
}

// A peer that dies before printing fails the test with its stderr, read
// without a data race (the test runs under -race in CI): the websocket
// interop tests used to read a bytes.Buffer the process was still writing.
func TestStartPeerExitReportsStderr(t *testing.T) {
	sh := RequireTool(t, "sh")
	f := runFake(t, func(tb testing.TB) {
		StartPeer(tb, exec.Command(sh, "-c", "echo 'cannot find module ws' >&2; exit 3"), 10*time.Second)
	})
	if !strings.Contains(f.failed, "exited before printing a line") || !strings.Contains(f.failed, "cannot find module ws") {
		t.Fatalf("failure %q", f.failed)
	}
}
