// Package leakcheck fails a test binary that leaves goroutines behind.
//
// Every package's TestMain calls [Main]; after the tests pass it waits a
// bounded time for goroutines started by the tests to exit and, if any remain,
// prints their stacks and exits non-zero.
package leakcheck

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Main runs the tests of m and then checks for leaked goroutines. It does not
// return: it calls os.Exit with the tests' code, or 1 on a leak.
func Main(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := Wait(5 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "leakcheck: goroutines left behind after the tests:\n\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// Wait waits up to d for every interesting goroutine (one not belonging to the
// runtime or the testing framework) to exit. It returns "" when none remain,
// or their stacks.
func Wait(d time.Duration) string {
	deadline := time.Now().Add(d)
	delay := time.Millisecond
	for {
		leaked := Interesting()
		if len(leaked) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(delay)
		if delay < 100*time.Millisecond {
			delay *= 2
		}
	}
}

// Interesting returns the stacks of goroutines other than the caller's and
// those of the runtime, the testing framework and os/signal.
func Interesting() []string {
	buf := make([]byte, 2<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 { // the calling goroutine
			continue
		}
		if boring(g) {
			continue
		}
		out = append(out, g)
	}
	return out
}

func boring(stack string) bool {
	for _, s := range []string{
		"testing.Main(",
		"testing.(*M).",
		"testing.tRunner(",
		"testing.runTests(",
		"testing.(*T).Run(",
		"testing.(*F).Fuzz(",
		"testing.runFuzzing(",
		"testing/internal/testdeps",
		"os/signal.signal_recv",
		"os/signal.loop",
		"created by runtime.gc",
		"runtime.MHeap_Scavenger",
		"runtime.ensureSigM",
		"runtime/trace",
	} {
		if strings.Contains(stack, s) {
			return true
		}
	}
	return strings.TrimSpace(stack) == ""
}
