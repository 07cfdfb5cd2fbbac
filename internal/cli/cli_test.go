package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/leakcheck"
	"github.com/netkit-go/netkit/tcp"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func TestUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := Run(context.Background(), []string{"bogus"}, nil, &out, &errOut); !errors.Is(err, ErrUsage) {
		t.Fatalf("unknown command: %v", err)
	}
	if out.Len() != 0 || !strings.Contains(errOut.String(), "unknown command") {
		t.Fatalf("stdout %q stderr %q", out.String(), errOut.String())
	}
	if err := Run(context.Background(), nil, nil, &out, &errOut); !errors.Is(err, ErrUsage) {
		t.Fatalf("no command: %v", err)
	}
	out.Reset()
	if err := Run(context.Background(), []string{"help"}, nil, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	for _, c := range commands {
		if !strings.Contains(out.String(), c.name) {
			t.Errorf("help lacks %q:\n%s", c.name, out.String())
		}
	}
}

// Every command prints its help on stdout for --help and -h, and exits 0.
func TestHelpOfEveryCommand(t *testing.T) {
	for _, c := range commands {
		for _, h := range []string{"--help", "-h"} {
			args := append(strings.Fields(c.name), h)
			var out, errOut bytes.Buffer
			err := Run(context.Background(), args, nil, &out, &errOut)
			if !errors.Is(err, flag.ErrHelp) || exitCode(err, &errOut) != 0 {
				t.Errorf("%q: %v", args, err)
			}
			if !strings.HasPrefix(out.String(), "Usage: netkit "+c.name) || errOut.Len() != 0 {
				t.Errorf("%q: stdout %q, stderr %q", args, out.String(), errOut.String())
			}
		}
	}
}

// A malformed command line says what was wrong (exit status 2).
func TestUsageErrorsSayWhy(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"tcp", "listen"}, "missing PORT"},
		{[]string{"tcp", "listen", "0", "1"}, `unexpected argument "1"`},
		{[]string{"tcp", "listen", "--bogus", "0"}, "flag provided but not defined: -bogus"},
		{[]string{"tcp", "listen", "0", "--host"}, "flag needs an argument: -host"},
		{[]string{"tcp", "listen", "x"}, `invalid port "x"`},
		{[]string{"tcp", "connect", "nocolon"}, `want HOST:PORT, got "nocolon"`},
		{[]string{"udp", "send", "127.0.0.1:1"}, "missing MESSAGE"},
		{[]string{"udp", "send", "127.0.0.1:1", "two", "words"}, `unexpected argument "words"`},
		{[]string{"udp", "listen", "--max-datagram", "-1", "0"}, "--max-datagram must be 0"},
		{[]string{"ws", "listen", "0", "--timeout", "1s"}, "flag provided but not defined: -timeout"},
		{[]string{"ws", "connect", "--binary", "octal", "ws://127.0.0.1:1/"}, "--binary must be hex or base64"},
		{[]string{"serve", "--log-format", "xml"}, "--log-format must be text or json"},
		{[]string{"serve", "--quiet", "--verbose"}, "--quiet and --verbose exclude each other"},
		{[]string{"serve", "--engine", "epoll"}, `--engine must be default, goroutine or evloop, not "epoll"`},
		{[]string{"bench", "sctp", "127.0.0.1:1"}, `unknown protocol "sctp"`},
		{[]string{"version", "extra"}, `unexpected argument "extra"`},
		{[]string{"hub", "extra"}, `unexpected argument "extra"`},
		{[]string{"hub", "--policy", "later"}, `--policy: hub: unknown policy "later"`},
		{[]string{"hub", "--path", "/"}, "--path must start with / and not be /"},
		{[]string{"hub", "--path", "hub"}, "--path must start with / and not be /"},
		{[]string{"hub", "--port", "70000"}, `invalid port "70000"`},
		{[]string{"hub", "--queue", "0"}, "--queue must be at least 1, not 0"},
		{[]string{"hub", "--log-format", "xml"}, "--log-format must be text or json"},
	} {
		var out, errOut bytes.Buffer
		err := Run(context.Background(), c.args, nil, &out, &errOut)
		if !errors.Is(err, ErrUsage) || exitCode(err, io.Discard) != 2 {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		name := c.args[0]
		if name != "serve" && name != "bench" && name != "version" && name != "hub" {
			name += " " + c.args[1]
		}
		if e := errOut.String(); !strings.HasPrefix(e, "netkit "+name+": "+c.want) || !strings.Contains(e, "Usage: netkit "+name) {
			t.Errorf("%q: stderr %q, want the reason %q and the usage", c.args, e, c.want)
		}
		if out.Len() != 0 {
			t.Errorf("%q: stdout %q", c.args, out.String())
		}
	}
}

func TestParseInterleaved(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	echo := fs.Bool("echo", false, "")
	host := fs.String("host", "", "")
	pos, err := parseInterleaved(fs, []string{"a", "--echo", "b", "--host", "h", "c", "--", "-d", "--echo=false"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(pos, " ") != "a b c -d --echo=false" || !*echo || *host != "h" {
		t.Fatalf("positional %q, echo %v, host %q", pos, *echo, *host)
	}
}

func TestVersionLine(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/netkit-go/netkit", Version: "v0.3.1"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-12-03T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	if got := versionLine("", bi); !strings.HasPrefix(got, "netkit v0.3.1 (revision 0123abcd, 2026-12-03T10:00:00Z, modified) go1.26.8 ") {
		t.Fatalf("got %q", got)
	}
	bi.Main.Version, bi.Settings = "(devel)", nil
	if got := versionLine("", bi); !strings.HasPrefix(got, "netkit devel go1.26.8 ") {
		t.Fatalf("got %q", got)
	}
	if got := versionLine("v9", nil); !strings.HasPrefix(got, "netkit v9 go") {
		t.Fatalf("got %q", got)
	}
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"version"}, nil, &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "netkit ") {
		t.Fatalf("version printed %q, %v", out.String(), err)
	}
}

func TestServeEchoesAndStops(t *testing.T) {
	r := startCommand(t, "serve", "--tcp-port", "0", "--udp-port", "0", "--ws-port", "0")
	conn, err := net.Dial("tcp", r.addr(t, "tcp"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	conn.Write([]byte("ping"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo %q %v", buf, err)
	}
	if err := r.stop(t); err != nil { // Ctrl-C
		t.Fatal(err)
	}
	// The graceful stop sent FIN.
	if n, err := conn.Read(buf); err != io.EOF {
		t.Fatalf("after stop: %d, %v", n, err)
	}
}

func TestTCPConnectLikeNC(t *testing.T) {
	l, err := tcp.NewListener(0, &tcp.ListenerConfig{LocalHost: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	l.Attach(tcp.EchoService)
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	defer l.ImmediateStop()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	in := strings.NewReader("hello over tcp\n")
	// The flag after the address, as people type it.
	if err := Run(ctx, []string{"tcp", "connect", l.Addr().String(), "--timeout", "5s"}, in, &out, &errOut); err != nil {
		t.Fatalf("%v (stderr %q)", err, errOut.String())
	}
	if out.String() != "hello over tcp\n" {
		t.Fatalf("stdout %q", out.String())
	}
}

// The README's "tcp listen 9000 --echo": flags after the port work.
func TestTCPListenPrintsAndEchoes(t *testing.T) {
	for _, args := range [][]string{{"tcp", "listen", "0"}, {"tcp", "listen", "0", "--echo"}, {"tcp", "listen", "--echo", "0"}} {
		echo := len(args) == 4
		r := startCommand(t, args...)
		conn, err := net.Dial("tcp", r.addr(t, "tcp"))
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		conn.Write([]byte("data"))
		conn.(*net.TCPConn).CloseWrite()
		got, _ := io.ReadAll(conn)
		conn.Close()
		if err := r.stop(t); err != nil {
			t.Fatal(err)
		}
		if echo && string(got) != "data" {
			t.Fatalf("%q: echo got %q", args, got)
		}
		if !echo && r.out.String() != "data" {
			t.Fatalf("%q: printed %q", args, r.out.String())
		}
	}
}
