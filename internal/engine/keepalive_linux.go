package engine

import (
	"net"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Go's TCP listener sets keep-alive on every accepted connection: four
// setsockopt calls per accept (SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL,
// TCP_KEEPCNT), 15 % of the server's CPU in bench/run's W5 handshake
// profile. On Linux an accepted socket inherits these options from its
// listening socket (the kernel clones the listener's socket and starts
// the keep-alive timer of a child whose SO_KEEPALIVE is set), so when the
// caller left keep-alive at its default, the listener is given Go's
// default settings once and the per-accept calls are turned off: every
// accepted connection still has keep-alive, 15 s idle, 15 s interval, 9
// probes, as with net.Listen.

// Go's defaults for an accepted connection (net.ListenConfig, KeepAlive 0).
const (
	keepAliveIdle     = 15
	keepAliveInterval = 15
	keepAliveCount    = 9
)

// inheritKeepAlive returns the ListenConfig to listen on network with: lc
// itself for a network other than TCP or when lc sets keep-alive
// (KeepAlive or KeepAliveConfig), otherwise a copy
// whose Control also sets Go's default keep-alive on the listening socket
// and whose accepted connections are not set one by one.
func inheritKeepAlive(lc *net.ListenConfig, network string) *net.ListenConfig {
	if !strings.HasPrefix(network, "tcp") || lc.KeepAlive != 0 || lc.KeepAliveConfig != (net.KeepAliveConfig{}) {
		return lc
	}
	c := *lc
	c.KeepAlive = -1
	c.KeepAliveConfig = net.KeepAliveConfig{}
	control := lc.Control
	c.Control = func(network, address string, rc syscall.RawConn) error {
		if control != nil {
			if err := control(network, address, rc); err != nil {
				return err
			}
		}
		var serr error
		if err := rc.Control(func(fd uintptr) {
			for _, o := range [...]struct{ level, opt, v int }{
				{unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
				{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, keepAliveIdle},
				{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, keepAliveInterval},
				{unix.IPPROTO_TCP, unix.TCP_KEEPCNT, keepAliveCount},
			} {
				if serr == nil {
					serr = unix.SetsockoptInt(int(fd), o.level, o.opt, o.v)
				}
			}
		}); err != nil {
			return err
		}
		return serr
	}
	return &c
}
