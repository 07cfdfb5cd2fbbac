// Package cli is the netkit command-line tool. [Run] is its whole surface:
// cmd/netkit/main.go only calls it. Intended output goes to stdout,
// diagnostics and logs to stderr.
//
// The commands are listed in one table, [commands]; the flags shared by
// every server command (serve and each listen) are defined once, in
// [addServerFlags].
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/netkit-go/netkit"
)

// ErrUsage is returned for a malformed command line (after printing what
// was wrong and the usage on stderr).
var ErrUsage = errors.New("usage error")

// env is what a command runs with.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// log receives diagnostics; server commands replace it with the one
	// their --quiet, --verbose and --log-format flags select.
	log *slog.Logger
	// engine is the listeners' backend, from --engine.
	engine netkit.Engine
	// outMu serialises servers' writes to stdout.
	outMu sync.Mutex
}

type command struct {
	name    string
	summary string
	run     func(e *env, args []string) error
}

// commands is every command of the tool, in the order "netkit help" lists
// them. A new command is one line in init below (a variable initialiser
// would be an initialisation cycle: the commands' help looks the table up).
var commands []command

func init() {
	commands = []command{
		{"serve", "run the seed samples' servers (TCP echo on 3000, UDP echo on 48826, WebSocket echo on 21003) until Ctrl-C", serve},
		{"tcp listen", "accept TCP connections; print what arrives (or --echo it)", tcpListen},
		{"tcp connect", "connect to HOST:PORT; stdin to the socket, the socket to stdout (like nc)", tcpConnect},
		{"udp listen", "receive datagrams; print them (or --echo them)", udpListen},
		{"udp send", "send MESSAGE to HOST:PORT; print the reply if one comes in time", udpSend},
		{"ws listen", "serve a WebSocket echo (--echo) or printer at PATH, with a chat page at /", wsListen},
		{"ws connect", "connect to a ws:// or wss:// URL; stdin lines are sent as text, messages printed", wsConnect},
		{"hub", "serve a publish/subscribe hub (JSON over WebSocket at --path, a chat page at /), across nodes with --nats", hubCmd},
		{"bench", "load-test a tcp, udp or ws echo server (latency, throughput, server CPU and RSS)", bench},
		{"version", "print the version, VCS revision and Go version", version},
	}
}

// lookup returns the command named name.
func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

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
	c, ok := lookup(name)
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
	fmt.Fprintln(w, "\nUsage: netkit <command> [arguments and flags, in any order]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'netkit <command> --help' for a command's flags.")
}

// cmdFlags is a command's flag set. Flags may come before, between or after
// the positional arguments, as people type them; "--" ends the flags.
type cmdFlags struct {
	*flag.FlagSet
	e        *env
	name     string // "tcp listen"
	synopsis string // "[flags] PORT"
}

// newFlags returns the flag set of command name, whose arguments synopsis
// describes.
func newFlags(e *env, name, synopsis string) *cmdFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse reports errors itself
	return &cmdFlags{FlagSet: fs, e: e, name: name, synopsis: synopsis}
}

// parse parses args. want names the positional arguments, all required
// (for the messages); parse returns them. --help prints the usage on stdout
// and returns flag.ErrHelp; any other problem is reported by fail.
func (f *cmdFlags) parse(args []string, want ...string) ([]string, error) {
	pos, err := parseInterleaved(f.FlagSet, args)
	if errors.Is(err, flag.ErrHelp) {
		f.help(f.e.stdout)
		return nil, flag.ErrHelp
	}
	if err != nil {
		return nil, f.fail("%v", err)
	}
	if len(pos) < len(want) {
		return nil, f.fail("missing %s", strings.Join(want[len(pos):], " "))
	}
	if len(pos) > len(want) {
		return nil, f.fail("unexpected argument %q (a value with spaces needs quotes; one starting with - goes after --)", pos[len(want)])
	}
	return pos, nil
}

// parseInterleaved parses flags anywhere in args and returns the positional
// arguments in order. Everything after "--" is positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// fail reports a malformed command line: what was wrong and the synopsis on
// stderr. The error matches ErrUsage (exit status 2).
func (f *cmdFlags) fail(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintf(f.e.stderr, "netkit %s: %s\nUsage: netkit %s %s\nRun 'netkit %s --help' for the flags.\n", f.name, msg, f.name, f.synopsis, f.name)
	return fmt.Errorf("%w: %s", ErrUsage, msg)
}

// help prints the synopsis and every flag with its default.
func (f *cmdFlags) help(w io.Writer) {
	fmt.Fprintf(w, "Usage: netkit %s %s\n", f.name, f.synopsis)
	if c, ok := lookup(f.name); ok {
		fmt.Fprintf(w, "\n%s\n", c.summary)
	}
	has := false
	f.VisitAll(func(*flag.Flag) { has = true })
	if has {
		fmt.Fprintln(w, "\nFlags (before or after the arguments):")
		f.SetOutput(w)
		f.PrintDefaults()
		f.SetOutput(io.Discard)
	}
}

// reportedError is an error the command already reported (as a --json
// event, for example): Main exits 1 without printing it again.
type reportedError struct{ error }

func (r reportedError) Unwrap() error { return r.error }

// Main is the program: it runs os.Args with the process's streams and
// returns the exit code (2 for usage errors, 1 for other failures).
func Main(ctx context.Context) int {
	return exitCode(Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr), os.Stderr)
}

// exitCode prints err (once) on stderr and returns the exit status.
func exitCode(err error, stderr io.Writer) int {
	var reported reportedError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, ErrUsage):
		return 2
	case errors.As(err, &reported):
		return 1
	default:
		fmt.Fprintf(stderr, "netkit: %v\n", err)
		return 1
	}
}
