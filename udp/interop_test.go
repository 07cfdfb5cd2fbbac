package udp_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/udp"
)

// socat sends datagrams to the listener and prints the replies.
func TestSocatToListener(t *testing.T) {
	socat := netkittest.RequireTool(t, "socat")
	forModesParallel(t, func(t *testing.T, m mode) {
		cfg := &udp.ListenerConfig{}
		m.cfg(cfg)
		_, addr := startListener(t, cfg, udp.BytesFunc(func(_ udp.Caller, b []byte) ([]byte, error) {
			return bytes.ToUpper(b), nil
		}))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, socat, "-t0.5", "-", "UDP:"+addr.String())
		cmd.Stdin = strings.NewReader("hello from socat\n")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("socat: %v (output %q)", err, out)
		}
		if string(out) != "HELLO FROM SOCAT\n" {
			t.Fatalf("socat printed %q", out)
		}
	})
}

// socat over IPv6.
func TestSocatToListenerIPv6(t *testing.T) {
	socat := netkittest.RequireTool(t, "socat")
	if probe, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback}); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		probe.Close()
	}
	_, addr := startListener(t, &udp.ListenerConfig{LocalHost: "::1"}, udp.Echo)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, socat, "-t0.5", "-", "UDP6:"+addr.String())
	cmd.Stdin = strings.NewReader("hello6\n")
	out, err := cmd.Output()
	if err != nil || string(out) != "hello6\n" {
		t.Fatalf("socat: %q %v", out, err)
	}
}

// The Client talks to socat's UDP echo server.
func TestClientToSocatEcho(t *testing.T) {
	socat := netkittest.RequireTool(t, "socat")
	addr := startSocatEcho(t, socat)
	c := newClient(t, &udp.ClientConfig{LocalHost: "127.0.0.1", Timeout: 5 * time.Second})
	for i := range 3 {
		msg := fmt.Sprintf("datagram %d for socat", i)
		d := roundTrip(t, c, addr, []byte(msg))
		if string(d.Data) != msg || d.Addr != addr {
			t.Fatalf("reply %q from %v, want %q from %v", d.Data, d.Addr, msg, addr)
		}
	}
	// A large datagram (split off at MaxDatagramSize) comes back whole.
	big := bytes.Repeat([]byte("x"), 8192)
	if d := roundTrip(t, c, addr, big); !bytes.Equal(d.Data, big) {
		t.Fatalf("8192-byte datagram came back with %d bytes", len(d.Data))
	}
	cc, err := udp.NewConnectClient(context.Background(), "127.0.0.1", int(addr.Port()), &udp.ConnectClientConfig{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if err := cc.WriteBytes(context.Background(), []byte("connected")); err != nil {
		t.Fatal(err)
	}
	if b, err := cc.ReadBytes(context.Background()); err != nil || string(b) != "connected" {
		t.Fatalf("ConnectClient: %q %v", b, err)
	}
}

// startSocatEcho starts `socat UDP-RECVFROM:PORT,bind=127.0.0.1,fork PIPE`
// on a free port (retrying if the port is taken between the probe and
// socat's bind) and waits until it echoes.
func startSocatEcho(t *testing.T, socat string) netip.AddrPort {
	t.Helper()
	probe, err := udp.NewClient(context.Background(), &udp.ClientConfig{LocalHost: "127.0.0.1", Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	for attempt := range 5 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := pc.LocalAddr().(*net.UDPAddr).AddrPort()
		pc.Close()
		cmd := exec.Command(socat, fmt.Sprintf("UDP-RECVFROM:%d,bind=127.0.0.1,fork", addr.Port()), "PIPE")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() {
			cmd.Process.Kill()
			<-exited
		}
		// socat binds asynchronously: probe until it echoes (bounded).
		for range 25 {
			select {
			case <-exited:
				t.Logf("attempt %d: socat exited (port %d taken?)", attempt, addr.Port())
			default:
				if err := probe.SendDatagram(context.Background(), udp.Datagram{Addr: addr, Data: []byte("probe")}); err != nil {
					continue
				}
				if d, err := probe.ReceiveDatagram(context.Background()); err == nil && string(d.Data) == "probe" {
					t.Cleanup(stop)
					return addr
				}
				continue
			}
			break
		}
		stop()
	}
	t.Fatal("could not start socat's UDP echo server")
	return netip.AddrPort{}
}
