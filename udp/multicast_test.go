package udp_test

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/netkit-go/netkit/udp"
)

// multicastInterfaces lists interfaces to try: loopback first, then up,
// multicast-capable ones (the sender uses TTL 0, so nothing leaves the host).
func multicastInterfaces(t *testing.T) []net.Interface {
	ifs, err := net.Interfaces()
	if err != nil {
		t.Skipf("cannot list interfaces: %v", err)
	}
	var lo, other []net.Interface
	for _, ifi := range ifs {
		switch {
		case ifi.Flags&net.FlagUp == 0:
		case ifi.Flags&net.FlagLoopback != 0:
			lo = append(lo, ifi)
		case ifi.Flags&net.FlagMulticast != 0:
			other = append(other, ifi)
		}
	}
	return append(lo, other...)
}

// A listener joined to a multicast group receives what is sent to the
// group, and answers the sender.
func TestMulticastLoopback(t *testing.T) {
	group := netip.MustParseAddr("239.255.42.99")
	var reasons []string
	for _, ifi := range multicastInterfaces(t) {
		err := tryMulticast(t, group, ifi)
		if err == nil {
			t.Logf("multicast works on %s", ifi.Name)
			return
		}
		reasons = append(reasons, fmt.Sprintf("%s: %v", ifi.Name, err))
	}
	t.Skipf("the kernel delivers no multicast here (%v)", reasons)
}

func tryMulticast(t *testing.T, group netip.Addr, ifi net.Interface) error {
	got := make(chan string, 1)
	l, err := udp.NewListener(0, &udp.ListenerConfig{
		MulticastGroups:    []netip.Addr{group},
		MulticastInterface: ifi.Name,
		Logger:             quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	l.Attach(udp.BytesFunc(func(c udp.Caller, b []byte) ([]byte, error) {
		select {
		case got <- string(b):
		default:
		}
		return []byte("ack " + string(b)), nil
	}))
	if err := l.Start(); err != nil {
		return fmt.Errorf("join: %w", err)
	}
	defer stopListener(t, l)
	port := l.Addr().(*net.UDPAddr).Port

	s, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := ipv4.NewPacketConn(s)
	if err := p.SetMulticastInterface(&ifi); err != nil {
		return fmt.Errorf("sender interface: %w", err)
	}
	p.SetMulticastLoopback(true)
	p.SetMulticastTTL(0)
	dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(group, uint16(port)))
	if _, err := s.WriteTo([]byte("to the group"), dst); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	select {
	case msg := <-got:
		if msg != "to the group" {
			t.Fatalf("listener got %q", msg)
		}
	case <-time.After(time.Second):
		return errors.New("nothing delivered within 1s")
	}
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, _, err := s.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "ack to the group" {
		t.Fatalf("sender got %q, %v", buf[:n], err)
	}
	return nil
}

func TestMulticastBadGroup(t *testing.T) {
	l, _ := udp.NewListener(0, &udp.ListenerConfig{MulticastGroups: []netip.Addr{netip.MustParseAddr("127.0.0.1")}})
	l.Attach(udp.Echo)
	if err := l.Start(); err == nil {
		l.ImmediateStop()
		<-l.Done()
		t.Fatal("joined 127.0.0.1 as a multicast group")
	}
}
