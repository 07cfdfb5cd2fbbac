package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/leakcheck"
	"github.com/netkit-go/netkit/netkittest"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// The built command's "version" reports the build information the go
// command stamped: the VCS revision when it stamped one.
func TestVersionOfBuiltCommand(t *testing.T) {
	gobin := netkittest.RequireTool(t, "go")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "netkit")
	if out, err := exec.CommandContext(ctx, gobin, "build", "-buildvcs=auto", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.CommandContext(ctx, bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(string(out))
	if !strings.HasPrefix(line, "netkit ") || !strings.Contains(line, " go1.") {
		t.Fatalf("version printed %q", line)
	}
	info, err := exec.CommandContext(ctx, gobin, "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	var rev string
	for _, l := range strings.Split(string(info), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "build" && strings.HasPrefix(f[1], "vcs.revision=") {
			rev = strings.TrimPrefix(f[1], "vcs.revision=")
		}
	}
	if rev == "" {
		t.Skipf("the go command stamped no VCS revision here (GOFLAGS=-buildvcs=false, or a git worktree); version printed %q", line)
	}
	if !strings.Contains(line, "(revision "+rev) {
		t.Fatalf("version printed %q, want revision %s", line, rev)
	}
}
