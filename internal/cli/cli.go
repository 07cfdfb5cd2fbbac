// Package cli is the netkit command-line tool. [Run] is its whole surface:
// cmd/netkit/main.go only calls it. Intended output goes to stdout,
// diagnostics to stderr.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"sort"
	"strings"
)

// Version is the tool's version, set at link time with
// -ldflags "-X github.com/netkit-go/netkit/internal/cli.Version=v1.2.3".
var Version = "devel"

// ErrUsage is returned for a malformed command line (after printing usage).
var ErrUsage = errors.New("usage error")

// env is what a command runs with.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
}

type command struct {
	name    string
	summary string
	run     func(e *env, args []string) error
}

var commands = map[string]command{}

func register(c command) { commands[c.name] = c }

// Run runs the command line args (without the program name). ctx ends the
// command: servers stop gracefully when it is cancelled (main cancels it on
// SIGINT and SIGTERM). stdin feeds commands that send what they read.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := &env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr,
		log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if len(args) == 0 {
		usage(stderr)
		return ErrUsage
	}
	name := args[0]
	if len(args) > 1 && (name == "tcp" || name == "udp" || name == "ws") {
		name += " " + args[1]
		args = args[1:]
	}
	c, ok := commands[name]
	if !ok {
		if name == "help" || name == "-h" || name == "--help" {
			usage(stdout)
			return nil
		}
		fmt.Fprintf(stderr, "netkit: unknown command %q\n\n", strings.Join(strings.Fields(name), " "))
		usage(stderr)
		return ErrUsage
	}
	return c.run(e, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "netkit: TCP, UDP and WebSocket services (Ballerina's networking modules in Go)")
	fmt.Fprintln(w, "\nUsage: netkit <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'netkit <command> -h' for a command's flags.")
}

// newFlags returns a flag set that reports errors on stderr without exiting.
func newFlags(e *env, name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: netkit %s %s\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args into fs and checks the positional count.
func parse(fs *flag.FlagSet, args []string, positional int) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return flag.ErrHelp
		}
		return ErrUsage
	}
	if fs.NArg() != positional {
		fs.Usage()
		return ErrUsage
	}
	return nil
}

func init() {
	register(command{name: "version", summary: "print the version", run: func(e *env, args []string) error {
		v := Version
		if bi, ok := debug.ReadBuildInfo(); ok && v == "devel" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		fmt.Fprintf(e.stdout, "netkit %s\n", v)
		return nil
	}})
}

// Main is the program: it runs os.Args with the process's streams and
// returns the exit code (2 for usage errors, 1 for other failures).
func Main(ctx context.Context) int {
	err := Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, ErrUsage):
		return 2
	default:
		fmt.Fprintf(os.Stderr, "netkit: %v\n", err)
		return 1
	}
}
