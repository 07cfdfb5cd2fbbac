package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/netkit-go/netkit/udp"
)

// udpSend sends one datagram from a connected socket, so that an ICMP port
// unreachable for it is reported at once (as the next read's
// ECONNREFUSED) instead of waiting out the timeout.
func udpSend(e *env, args []string) error {
	f := newFlags(e, "udp send", "[--timeout D] HOST:PORT MESSAGE")
	timeout := f.Duration("timeout", 2*time.Second, "how long to wait for a reply (0: do not wait)")
	pos, err := f.parse(args, "HOST:PORT", "MESSAGE")
	if err != nil {
		return err
	}
	host, port, err := splitHostPort(f, pos[0])
	if err != nil {
		return err
	}
	// Datagrams leave and are read whole (the library's default splits
	// sends at 8192 bytes, as Ballerina does).
	c, err := udp.NewConnectClient(e.ctx, host, port, &udp.ConnectClientConfig{MaxDatagramSize: -1})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.WriteBytes(e.ctx, []byte(pos[1])); err != nil {
		return err
	}
	if *timeout <= 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(e.ctx, *timeout)
	defer cancel()
	reply, err := c.ReadBytes(ctx)
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("nothing listens on %s (ICMP port unreachable): %w", c.RemoteAddr(), err)
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		fmt.Fprintf(e.stderr, "no reply within %v\n", *timeout)
		return nil
	case err != nil:
		return err
	}
	fmt.Fprintf(e.stdout, "%s\n", reply)
	return nil
}

func udpListen(e *env, args []string) error {
	f := newFlags(e, "udp listen", "[flags] PORT")
	sf := addServerFlags(f)
	echo := f.Bool("echo", false, "send each datagram back to its sender (default: print it on stdout)")
	maxDatagram := addDatagramFlag(f)
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
	maxD, err := maxDatagram()
	if err != nil {
		return err
	}
	l, err := startUDP(e, *sf.host, port, maxD, udpService(e, *echo))
	if err != nil {
		return err
	}
	return waitAndStop(e, l.GracefulStop)
}
