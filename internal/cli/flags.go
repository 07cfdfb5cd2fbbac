package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/netkit-go/netkit"
)

// serverFlags are the flags every server command (serve and each listen
// command) shares. A new shared flag is a field here and a line in
// addServerFlags.
type serverFlags struct {
	host      *string
	quiet     *bool
	verbose   *bool
	logFormat *string
	metrics   *string
	engine    *string
}

// addServerFlags defines the shared server flags on f.
func addServerFlags(f *cmdFlags) *serverFlags {
	return &serverFlags{
		host:      f.String("host", "127.0.0.1", "address to bind (0.0.0.0 or :: for every interface)"),
		quiet:     f.Bool("quiet", false, "log only warnings and errors"),
		verbose:   f.Bool("verbose", false, "also log each TCP chunk and WebSocket message with its size, and the library's debug records"),
		logFormat: f.String("log-format", "text", "log format on stderr: text or json (log/slog's handlers)"),
		metrics:   addMetricsFlag(f.FlagSet),
		engine:    f.String("engine", "default", "connection engine of the TCP and WebSocket listeners: default, goroutine or evloop (UDP has one; the NETKIT_ENGINE environment variable overrides it)"),
	}
}

// setup checks the shared flags after parsing, installs the logger they
// select as f's env's log, and starts the --metrics endpoint (if any); the
// caller defers the returned stop. Logged at the default (info) level: where
// each server listens, each TCP and WebSocket connection and its close, each
// UDP datagram, errors; --verbose adds each TCP chunk and WebSocket message.
func (sf *serverFlags) setup(f *cmdFlags) (stop func(), err error) {
	if err := sf.setLogger(f); err != nil {
		return nil, err
	}
	switch *sf.engine {
	case "default":
		f.e.engine = netkit.EngineDefault
	case "goroutine":
		f.e.engine = netkit.EngineGoroutine
	case "evloop":
		f.e.engine = netkit.EngineEventLoop
	default:
		return nil, f.fail("--engine must be default, goroutine or evloop, not %q", *sf.engine)
	}
	return startMetrics(f.e, *sf.metrics)
}

// setLogger installs the logger that --quiet, --verbose and --log-format select.
func (sf *serverFlags) setLogger(f *cmdFlags) error {
	level := slog.LevelInfo
	switch {
	case *sf.quiet && *sf.verbose:
		return f.fail("--quiet and --verbose exclude each other")
	case *sf.quiet:
		level = slog.LevelWarn
	case *sf.verbose:
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	switch *sf.logFormat {
	case "text":
		f.e.log = slog.New(slog.NewTextHandler(f.e.stderr, opts))
	case "json":
		f.e.log = slog.New(slog.NewJSONHandler(f.e.stderr, opts))
	default:
		return f.fail("--log-format must be text or json, not %q", *sf.logFormat)
	}
	return nil
}

// tlsFlags are --tls-cert and --tls-key of the commands that serve
// WebSockets (serve, ws listen): with both, the WebSocket port serves TLS
// with ALPN h2 and http/1.1, RFC 8441 advertised on HTTP/2.
type tlsFlags struct{ cert, key *string }

func addTLSFlags(f *cmdFlags) tlsFlags {
	return tlsFlags{
		cert: f.String("tls-cert", "", "PEM certificate (chain) file: serve the WebSocket port over TLS (wss://, https:// page) with HTTP/2 and HTTP/1.1; needs --tls-key"),
		key:  f.String("tls-key", "", "PEM private key file of --tls-cert"),
	}
}

// config returns the TLS configuration the flags select, or nil for none.
func (t tlsFlags) config(f *cmdFlags) (*tls.Config, error) {
	switch {
	case *t.cert == "" && *t.key == "":
		return nil, nil
	case *t.cert == "" || *t.key == "":
		return nil, f.fail("--tls-cert and --tls-key go together")
	}
	cert, err := tls.LoadX509KeyPair(*t.cert, *t.key)
	if err != nil {
		return nil, fmt.Errorf("loading --tls-cert and --tls-key: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}, nil
}

// addDatagramFlag defines --max-datagram, the size the UDP echo splits its
// replies at, and returns a function that gives udp.ListenerConfig's
// MaxDatagramSize for it (a negative value: never split).
func addDatagramFlag(f *cmdFlags) func() (int, error) {
	n := f.Int("max-datagram", 0, "split each UDP reply into datagrams of at most this many bytes; 0: never split, a datagram comes back whole (up to 65507 bytes)")
	return func() (int, error) {
		switch {
		case *n < 0:
			return 0, f.fail("--max-datagram must be 0 (never split) or a positive size, not %d", *n)
		case *n == 0:
			return -1, nil
		}
		return *n, nil
	}
}

// stopGrace bounds the graceful stop after Ctrl-C.
const stopGrace = 900 * time.Millisecond

// waitAndStop waits for the command's context to end, then stops within
// stopGrace.
func waitAndStop(e *env, stops ...func(context.Context) error) error {
	<-e.ctx.Done()
	ctx, cancel := context.WithTimeout(context.Background(), stopGrace)
	defer cancel()
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, stop := range stops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := stop(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// parsePort parses a PORT argument; a bad one is a usage error.
func parsePort(f *cmdFlags, s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 0 || p > 65535 {
		return 0, f.fail("invalid port %q (want 0-65535)", s)
	}
	return p, nil
}

// splitHostPort parses a HOST:PORT argument; a bad one is a usage error.
func splitHostPort(f *cmdFlags, s string) (string, int, error) {
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, f.fail("want HOST:PORT, got %q", s)
	}
	port, err := parsePort(f, p)
	return h, port, err
}

// listenError gives every listen failure one format, the net package's:
// "listen tcp 127.0.0.1:3000: bind: address already in use" (the faces wrap
// it in their Ballerina messages).
func listenError(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "listen" {
		return op
	}
	return err
}

// printf writes to the command's stdout, one writer at a time.
func (e *env) printf(format string, args ...any) error {
	e.outMu.Lock()
	defer e.outMu.Unlock()
	_, err := fmt.Fprintf(e.stdout, format, args...)
	return err
}
