package cli

import (
	"context"
	"errors"
	"io"
	"net"
	"time"

	"github.com/netkit-go/netkit/tcp"
)

func tcpListen(e *env, args []string) error {
	f := newFlags(e, "tcp listen", "[flags] PORT")
	sf := addServerFlags(f)
	echo := f.Bool("echo", false, "write back what arrives (default: print it on stdout)")
	pos, err := f.parse(args, "PORT")
	if err != nil {
		return err
	}
	port, err := parsePort(f, pos[0])
	if err != nil {
		return err
	}
	stopMetrics, err := sf.setup(f)
	if err != nil {
		return err
	}
	defer stopMetrics()
	l, err := startTCP(e, *sf.host, port, tcpService(e, *echo))
	if err != nil {
		return err
	}
	return waitAndStop(e, l.GracefulStop)
}

func tcpConnect(e *env, args []string) error {
	f := newFlags(e, "tcp connect", "[--timeout D] HOST:PORT")
	timeout := f.Duration("timeout", 10*time.Second, "connect timeout")
	pos, err := f.parse(args, "HOST:PORT")
	if err != nil {
		return err
	}
	host, port, err := splitHostPort(f, pos[0])
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
