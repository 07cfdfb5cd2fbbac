package udp_test

import (
	"net"
	"net/netip"
	"runtime"
)

func runtimeGosched() { runtime.Gosched() }

func netipOf(a net.Addr) netip.AddrPort {
	ap := a.(*net.UDPAddr).AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
