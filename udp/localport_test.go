package udp_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netkit-go/netkit/udp"
)

// A Client bound to a fixed port (ClientConfig.LocalPort) receives what is
// sent to that port; binding it a second time fails.
func TestClientLocalPort(t *testing.T) {
	var c *udp.Client
	var port int
	for attempt := 0; c == nil; attempt++ {
		// Find a free port, then bind the client to it by number.
		probe, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		port = probe.LocalAddr().(*net.UDPAddr).Port
		probe.Close()
		c, err = udp.NewClient(context.Background(), &udp.ClientConfig{LocalHost: "127.0.0.1", LocalPort: port})
		if err != nil && (!errors.Is(err, syscall.EADDRINUSE) || attempt == 3) {
			t.Fatal(err)
		}
	}
	defer c.Close()
	if got := c.LocalAddr().(*net.UDPAddr).Port; got != port {
		t.Fatalf("bound to port %d, want %d", got, port)
	}
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	if _, err := peer.WriteToUDP([]byte("to a fixed port"), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}); err != nil {
		t.Fatal(err)
	}
	d, err := c.ReceiveDatagram(tctx(t, 5*time.Second))
	if err != nil || string(d.Data) != "to a fixed port" {
		t.Fatalf("ReceiveDatagram = %q, %v", d.Data, err)
	}
	if want := peer.LocalAddr().(*net.UDPAddr).AddrPort(); d.Addr != want {
		t.Fatalf("sender %v, want %v", d.Addr, want)
	}
	_, err = udp.NewClient(context.Background(), &udp.ClientConfig{LocalHost: "127.0.0.1", LocalPort: port})
	var ue *udp.Error
	if !errors.As(err, &ue) || ue.Msg != "Error initializing UDP Client" || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("second bind of port %d = %v", port, err)
	}
}

// A LocalPort outside 0..65535 is refused with "Error initializing UDP
// Client".
func TestClientInvalidLocalPort(t *testing.T) {
	for _, port := range []int{-1, 65536} {
		c, err := udp.NewClient(context.Background(), &udp.ClientConfig{LocalHost: "127.0.0.1", LocalPort: port})
		if err == nil {
			c.Close()
			t.Fatalf("LocalPort %d accepted", port)
		}
		var ue *udp.Error
		if !errors.As(err, &ue) || ue.Op != "init" || ue.Msg != "Error initializing UDP Client" || !strings.Contains(err.Error(), "invalid port") {
			t.Fatalf("LocalPort %d: %v", port, err)
		}
	}
}
