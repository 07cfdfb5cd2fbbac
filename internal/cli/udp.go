package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/netkit-go/netkit/udp"
)

func init() {
	register(command{name: "udp send", summary: "send MESSAGE to HOST:PORT; print the reply if one comes in time", run: udpSend})
	register(command{name: "udp listen", summary: "receive datagrams; print them (or --echo them)", run: udpListen})
}

func udpSend(e *env, args []string) error {
	fs := newFlags(e, "udp send", "[--timeout D] HOST:PORT MESSAGE")
	timeout := fs.Duration("timeout", 2*time.Second, "how long to wait for a reply (0: do not wait)")
	if err := parse(fs, args, 2); err != nil {
		return err
	}
	host, port, err := splitHostPort(fs.Arg(0))
	if err != nil {
		return err
	}
	to, err := udp.ResolveAddr(host, port)
	if err != nil {
		return err
	}
	c, err := udp.NewClient(e.ctx, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SendDatagram(e.ctx, udp.Datagram{Addr: to, Data: []byte(fs.Arg(1))}); err != nil {
		return err
	}
	if *timeout <= 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(e.ctx, *timeout)
	defer cancel()
	d, err := c.ReceiveDatagram(ctx)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
			fmt.Fprintf(e.stderr, "no reply within %v\n", *timeout)
			return nil
		}
		return err
	}
	fmt.Fprintf(e.stdout, "%s\n", d.Data)
	return nil
}

func udpListen(e *env, args []string) error {
	fs := newFlags(e, "udp listen", "[--host H] [--echo] [--metrics ADDR] PORT")
	lf := addListenFlags(fs, "send each datagram back to its sender")
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
	var mu sync.Mutex
	svc := udp.BytesFunc(func(c udp.Caller, data []byte) ([]byte, error) {
		if *echo {
			return data, nil
		}
		mu.Lock()
		defer mu.Unlock()
		_, err := fmt.Fprintf(e.stdout, "%s\n", data)
		return nil, err
	})
	l, err := startUDP(e, *host, port, svc)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "udp listening on %s\n", l.Addr())
	return waitAndStop(e, l.GracefulStop)
}

func startUDP(e *env, host string, port int, svc udp.Service) (*udp.Listener, error) {
	l, err := udp.NewListener(port, &udp.ListenerConfig{LocalHost: host, Logger: e.log, MeterProvider: meterOf(e)})
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
