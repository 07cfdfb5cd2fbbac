package udp

import (
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// joinGroups joins each multicast group on the named interface (the system's
// choice when ifname is empty).
func joinGroups(uc *net.UDPConn, groups []netip.Addr, ifname string) error {
	if len(groups) == 0 {
		return nil
	}
	var ifi *net.Interface
	if ifname != "" {
		var err error
		if ifi, err = net.InterfaceByName(ifname); err != nil {
			return err
		}
	}
	for _, g := range groups {
		g = g.Unmap()
		if !g.IsMulticast() {
			return fmt.Errorf("udp: %v is not a multicast address", g)
		}
		ga := &net.UDPAddr{IP: g.AsSlice()}
		var err error
		if g.Is4() {
			err = ipv4.NewPacketConn(uc).JoinGroup(ifi, ga)
		} else {
			err = ipv6.NewPacketConn(uc).JoinGroup(ifi, ga)
		}
		if err != nil {
			return fmt.Errorf("udp: joining multicast group %v: %w", g, err)
		}
	}
	return nil
}

// groupNetwork returns the network to bind a multicast listener with: "udp4"
// or "udp6" when every group is of that family, else "udp".
func groupNetwork(groups []netip.Addr) string {
	v4, v6 := 0, 0
	for _, g := range groups {
		if g.Unmap().Is4() {
			v4++
		} else {
			v6++
		}
	}
	switch {
	case v4 > 0 && v6 == 0:
		return "udp4"
	case v6 > 0 && v4 == 0:
		return "udp6"
	}
	return "udp"
}
