package engine

import (
	"net"
	"strconv"
)

// HostPort splits a connection address into the IP text (IPv4-mapped
// addresses unmapped, no reverse DNS) and the port, as Ballerina's
// remoteHost/remotePort fields. Other address kinds are split by text.
func HostPort(a net.Addr) (string, int) {
	switch a := a.(type) {
	case *net.TCPAddr:
		ap := a.AddrPort()
		return ap.Addr().Unmap().String(), int(ap.Port())
	case *net.UDPAddr:
		ap := a.AddrPort()
		return ap.Addr().Unmap().String(), int(ap.Port())
	case nil:
		return "", 0
	}
	h, p, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String(), 0
	}
	port, _ := strconv.Atoi(p)
	return h, port
}
