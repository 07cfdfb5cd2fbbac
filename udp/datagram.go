package udp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// maxPayload is the largest UDP payload over IPv4 (65535 - 8 - 20 bytes).
const maxPayload = 65507

// Datagram is one UDP datagram: Ballerina's udp:Datagram, with the remote
// host and port held as one [netip.AddrPort].
//
// A Datagram handed to OnDatagram is borrowed: Data is valid only until the
// callback returns (keep it with bytes.Clone). Datagrams returned by
// [Client.ReceiveDatagram] own their memory.
type Datagram struct {
	// Addr is the peer: the sender of a received datagram, the destination
	// of one to send. IPv4 peers are plain IPv4 addresses, never IPv4-mapped
	// IPv6 ones.
	Addr netip.AddrPort
	// Data is the payload.
	Data []byte
}

// RemoteHost returns the peer's IP address as text (Ballerina's remoteHost),
// with its zone for link-local IPv6 addresses; "" if Addr is not set.
func (d Datagram) RemoteHost() string {
	if !d.Addr.IsValid() {
		return ""
	}
	return d.Addr.Addr().String()
}

// RemotePort returns the peer's port (Ballerina's remotePort).
func (d Datagram) RemotePort() int { return int(d.Addr.Port()) }

// ResolveAddr resolves host (an IP address, possibly with an IPv6 zone, or a
// host name) and port into an address for [Datagram.Addr]. A name resolving
// to several addresses gives the first IPv4 one if there is one, else the
// first address, as [net.ResolveUDPAddr] does. IPv4-mapped IPv6 addresses are
// unmapped. Port must be in 0..65535.
func ResolveAddr(host string, port int) (netip.AddrPort, error) {
	return resolveAddr(context.Background(), host, port)
}

func resolveAddr(ctx context.Context, host string, port int) (netip.AddrPort, error) {
	if port < 0 || port > 65535 {
		return netip.AddrPort{}, fmt.Errorf("udp: invalid port %d", port)
	}
	if host == "" {
		return netip.AddrPort{}, errors.New("udp: missing host")
	}
	if len(host) > 2 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return netip.AddrPortFrom(ip.Unmap(), uint16(port)), nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if len(ips) == 0 {
		return netip.AddrPort{}, fmt.Errorf("udp: no addresses for %q", host)
	}
	best := ips[0].Unmap()
	for _, ip := range ips {
		if ip.Unmap().Is4() {
			best = ip.Unmap()
			break
		}
	}
	return netip.AddrPortFrom(best, uint16(port)), nil
}

// unmap returns ap with an IPv4-mapped IPv6 address turned into IPv4.
func unmap(ap netip.AddrPort) netip.AddrPort {
	if ap.Addr().Is4In6() {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return ap
}

// addrPortOf converts a net.Addr from a PacketConn to an AddrPort; the zero
// AddrPort if it is not an IP address.
func addrPortOf(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.UDPAddr:
		return unmap(a.AddrPort())
	case nil:
		return netip.AddrPort{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.AddrPort{}
	}
	return unmap(ap)
}

// localUDPAddr resolves an optional local host and a port into a bind address
// and the network to use ("udp", or "udp4"/"udp6" when forced by the address).
func localUDPAddr(ctx context.Context, host string, port int) (*net.UDPAddr, error) {
	if port < 0 || port > 65535 {
		return nil, fmt.Errorf("udp: invalid port %d", port)
	}
	if host == "" {
		return &net.UDPAddr{Port: port}, nil
	}
	ap, err := resolveAddr(ctx, host, port)
	if err != nil {
		return nil, err
	}
	return net.UDPAddrFromAddrPort(ap), nil
}
