package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/netkit-go/netkit/tcp"
)

func init() {
	register(command{name: "tcp listen", summary: "accept TCP connections; print what arrives (or --echo it)", run: tcpListen})
	register(command{name: "tcp connect", summary: "connect to HOST:PORT; stdin to the socket, the socket to stdout (like nc)", run: tcpConnect})
}

// listenFlags are the flags every "listen" command shares.
type listenFlags struct {
	host    *string
	echo    *bool
	metrics *string
}

// addListenFlags defines --host and --echo (described by echoDoc) on fs.
func addListenFlags(fs *flag.FlagSet, echoDoc string) listenFlags {
	return listenFlags{
		host: fs.String("host", "127.0.0.1", "address to bind (0.0.0.0 or :: for every interface)"),
		echo: fs.Bool("echo", false, echoDoc),

		metrics: addMetricsFlag(fs),
	}
}

// parse parses args (one positional PORT) and returns the port.
func (lf listenFlags) parse(fs *flag.FlagSet, args []string) (int, error) {
	if err := parse(fs, args, 1); err != nil {
		return 0, err
	}
	return parsePort(fs.Arg(0))
}

// stopGrace bounds the graceful stop after Ctrl-C.
const stopGrace = 900 * time.Millisecond

func tcpListen(e *env, args []string) error {
	fs := newFlags(e, "tcp listen", "[--host H] [--echo] [--metrics ADDR] PORT")
	lf := addListenFlags(fs, "write back what arrives")
	port, err := lf.parse(fs, args)
	if err != nil {
		return err
	}
	stopMetrics, err := startMetrics(e, *lf.metrics)
	if err != nil {
		return err
	}
	defer stopMetrics()
	host, echo := lf.host, lf.echo
	var outMu sync.Mutex
	svc := tcp.ServiceFunc(func(c *tcp.Caller) (tcp.ConnectionService, error) {
		fmt.Fprintf(e.stderr, "connected: %s\n", c.RemoteAddr())
		return &printService{echo: *echo, out: e.stdout, mu: &outMu, log: e.stderr}, nil
	})
	l, err := startTCP(e, *host, port, svc)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "tcp listening on %s\n", l.Addr())
	return waitAndStop(e, l.GracefulStop)
}

type printService struct {
	echo bool
	out  io.Writer
	mu   *sync.Mutex
	log  io.Writer
}

func (p *printService) OnBytes(c *tcp.Caller, data []byte) ([]byte, error) {
	if p.echo {
		return data, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, err := p.out.Write(data)
	return nil, err
}

func (p *printService) OnClose(c *tcp.Caller) { fmt.Fprintf(p.log, "closed: %s\n", c.RemoteAddr()) }

func (p *printService) OnError(c *tcp.Caller, err error) {
	fmt.Fprintf(p.log, "error: %s: %v\n", c.RemoteAddr(), err)
}

func startTCP(e *env, host string, port int, svc tcp.Service) (*tcp.Listener, error) {
	l, err := tcp.NewListener(port, &tcp.ListenerConfig{LocalHost: host, Logger: e.log, MeterProvider: meterOf(e)})
	if err != nil {
		return nil, err
	}
	if err := l.Attach(svc); err != nil {
		return nil, err
	}
	if err := l.Start(); err != nil {
		return nil, err
	}
	return l, nil
}

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

func parsePort(s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 0 || p > 65535 {
		return 0, fmt.Errorf("invalid port %q", s)
	}
	return p, nil
}

func splitHostPort(s string) (string, int, error) {
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, fmt.Errorf("want HOST:PORT: %w", err)
	}
	port, err := parsePort(p)
	return h, port, err
}

func tcpConnect(e *env, args []string) error {
	fs := newFlags(e, "tcp connect", "[--timeout D] HOST:PORT")
	timeout := fs.Duration("timeout", 10*time.Second, "connect timeout")
	if err := parse(fs, args, 1); err != nil {
		return err
	}
	host, port, err := splitHostPort(fs.Arg(0))
	if err != nil {
		return err
	}
	c, err := tcp.NewClient(e.ctx, host, port, &tcp.ClientConfig{Timeout: *timeout, WriteTimeout: -1})
	if err != nil {
		return err
	}
	defer c.Close()
	readDone := make(chan error, 1)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Read(context.Background(), buf)
			if n > 0 {
				if _, werr := e.stdout.Write(buf[:n]); werr != nil {
					readDone <- werr
					return
				}
			}
			if err != nil {
				if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
					err = nil
				}
				readDone <- err
				return
			}
		}
	}()
	writeDone := make(chan error, 1)
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := e.stdin.Read(buf)
			if n > 0 {
				if werr := c.WriteBytes(e.ctx, buf[:n]); werr != nil {
					writeDone <- werr
					return
				}
			}
			if err != nil {
				c.CloseWrite()
				if errors.Is(err, io.EOF) {
					err = nil
				}
				writeDone <- err
				return
			}
		}
	}()
	select {
	case err := <-readDone:
		return err
	case <-e.ctx.Done():
		return nil
	}
}
