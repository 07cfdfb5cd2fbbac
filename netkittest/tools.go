package netkittest

import (
	"os"
	"os/exec"
	"testing"
)

// RequireTool returns the path of the external program name (for example
// "socat" or "node"). When it is not installed the test is skipped, except
// when the environment variable CI is set: there the tool is part of the
// suite's contract (.ci/run installs it) and the test fails instead.
func RequireTool(tb testing.TB, name string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") != "" {
		tb.Fatalf("%s is required in CI but not installed: %v", name, err)
	}
	tb.Skipf("%s not installed (.ci/run installs it): %v", name, err)
	return ""
}
