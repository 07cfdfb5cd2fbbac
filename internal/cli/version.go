package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Version is the tool's version when set at link time with
// -ldflags "-X github.com/netkit-go/netkit/internal/cli.Version=v1.2.3";
// otherwise version reports the module version from the build information.
var Version = ""

func version(e *env, args []string) error {
	f := newFlags(e, "version", "")
	if _, err := f.parse(args); err != nil {
		return err
	}
	bi, _ := debug.ReadBuildInfo()
	fmt.Fprintln(e.stdout, versionLine(Version, bi))
	return nil
}

// versionLine describes the build: the version (Version if set, else the
// main module's version, "devel" for a build without one), the VCS
// revision, its time and whether the tree was modified, and the Go version
// and platform.
func versionLine(linked string, bi *debug.BuildInfo) string {
	v := linked
	if v == "" && bi != nil && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	if v == "" {
		v = "devel"
	}
	var vcs []string
	if bi != nil {
		var rev, at, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if rev != "" {
			vcs = append(vcs, "revision "+rev)
		}
		if at != "" {
			vcs = append(vcs, at)
		}
		if modified == "true" {
			vcs = append(vcs, "modified")
		}
	}
	goVersion := runtime.Version()
	if bi != nil && bi.GoVersion != "" {
		goVersion = bi.GoVersion
	}
	line := "netkit " + v
	if len(vcs) > 0 {
		line += " (" + strings.Join(vcs, ", ") + ")"
	}
	return line + " " + goVersion + " " + runtime.GOOS + "/" + runtime.GOARCH
}
