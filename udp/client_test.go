package udp_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/netkit-go/netkit/udp"
)

// §4.6: an invalid localHost gives "Error initializing UDP Client".
func TestClientInvalidLocalHost(t *testing.T) {
	for _, host := range []string{"bad host name!", "203.0.113.7"} {
		_, err := udp.NewClient(context.Background(), &udp.ClientConfig{LocalHost: host})
		var ue *udp.Error
		if !errors.As(err, &ue) || ue.Msg != "Error initializing UDP Client" || !bytes.HasPrefix([]byte(err.Error()), []byte("Error initializing UDP Client: ")) {
			t.Fatalf("LocalHost %q: %v", host, err)
		}
	}
	if _, err := udp.NewClient(context.Background(), &udp.ClientConfig{MaxDatagramSize: 70000}); err == nil {
		t.Fatal("MaxDatagramSize 70000 accepted")
	}
}

// The client reports the real sender (Ballerina reported the local address).
func TestClientRealSender(t *testing.T) {
	peer, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	c := newClient(t, &udp.ClientConfig{}) // dual-stack socket: IPv4 peers must come unmapped
	ca := c.LocalAddr().(*net.UDPAddr)
	if _, err := peer.WriteToUDP([]byte("hi"), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: ca.Port}); err != nil {
		t.Fatal(err)
	}
	d := recv(t, c)
	want := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	if d.Addr != want || !d.Addr.Addr().Is4() || d.RemoteHost() != "127.0.0.1" {
		t.Fatalf("sender %v, want %v", d.Addr, want)
	}
}

// ConnectClient read timeout: "Read timed out", typed, and the next read works.
func TestConnectClientReadTimeout(t *testing.T) {
	peer, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	pa := peer.LocalAddr().(*net.UDPAddr)
	c, err := udp.NewConnectClient(context.Background(), "127.0.0.1", pa.Port, &udp.ConnectClientConfig{Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_, err = c.ReadBytes(context.Background())
	if !errors.Is(err, os.ErrDeadlineExceeded) || err.Error() != "Read timed out" {
		t.Fatalf("ReadBytes: %v", err)
	}
	var te interface{ Timeout() bool }
	if !errors.As(err, &te) || !te.Timeout() {
		t.Fatalf("%v has no Timeout() == true", err)
	}
	if el := time.Since(start); el < 90*time.Millisecond || el > 3*time.Second {
		t.Fatalf("timed out after %v, want about 100ms", el)
	}
	// A context deadline earlier than Timeout wins, and also matches context.DeadlineExceeded.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	_, err = c.ReadBytes(ctx)
	cancel()
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ReadBytes with ctx deadline: %v", err)
	}
	// Still usable.
	if err := c.WriteBytes(context.Background(), []byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, from, err := peer.ReadFromUDPAddrPort(buf)
	if err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("peer read %q %v", buf[:n], err)
	}
	if _, err := peer.WriteToUDPAddrPort([]byte("pong"), from); err != nil {
		t.Fatal(err)
	}
	b, err := c.ReadBytes(context.Background())
	if err != nil || string(b) != "pong" {
		t.Fatalf("ReadBytes after timeout: %q %v", b, err)
	}
}

// ConnectClient round trip with a listener; the zero-alloc Read; RemoteAddr.
func TestConnectClientEcho(t *testing.T) {
	_, addr := startListener(t, nil, udp.Echo)
	c, err := udp.NewConnectClient(context.Background(), "localhost", int(addr.Port()), &udp.ConnectClientConfig{LocalHost: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.RemoteAddr().(*net.UDPAddr).AddrPort() != addr {
		t.Fatalf("RemoteAddr %v", c.RemoteAddr())
	}
	if err := c.WriteBytes(context.Background(), []byte("one")); err != nil {
		t.Fatal(err)
	}
	if b, err := c.ReadBytes(context.Background()); err != nil || string(b) != "one" {
		t.Fatalf("ReadBytes %q %v", b, err)
	}
	if err := c.WriteBytes(context.Background(), []byte("two")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if n, err := c.Read(context.Background(), buf); err != nil || string(buf[:n]) != "two" {
		t.Fatalf("Read %q %v", buf[:n], err)
	}
	if err := c.WriteBytes(context.Background(), []byte("three!!!!")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(context.Background(), buf); !errors.Is(err, udp.ErrTruncated) {
		t.Fatalf("Read into a short buffer: %v", err)
	}
}

func TestConnectClientErrors(t *testing.T) {
	for _, tc := range []struct {
		host string
		port int
	}{{"bad host name!", 80}, {"127.0.0.1", 0}, {"127.0.0.1", 70000}} {
		_, err := udp.NewConnectClient(context.Background(), tc.host, tc.port, nil)
		var ue *udp.Error
		if !errors.As(err, &ue) || ue.Msg != "Can't connect to remote host" {
			t.Fatalf("%s:%d: %v", tc.host, tc.port, err)
		}
	}
}

// A cancelled context interrupts a receive and returns ctx.Err(); the client stays usable.
func TestClientReceiveCancel(t *testing.T) {
	_, addr := startListener(t, nil, udp.Echo)
	c := newClient(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.ReceiveDatagram(ctx)
		errc <- err
	}()
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("ReceiveDatagram: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancel did not interrupt the receive")
	}
	if d := roundTrip(t, c, addr, []byte("after")); string(d.Data) != "after" {
		t.Fatalf("reply %q", d.Data)
	}
	if err := c.SendDatagram(ctx, udp.Datagram{Addr: addr, Data: []byte("x")}); !errors.Is(err, context.Canceled) {
		t.Fatalf("SendDatagram with a cancelled ctx: %v", err)
	}
}

// The client refuses datagrams larger than its ReceiveBufferSize, and stays usable.
func TestClientTruncated(t *testing.T) {
	_, addr := startListener(t, nil, udp.Echo)
	c := newClient(t, &udp.ClientConfig{LocalHost: "127.0.0.1", ReceiveBufferSize: 1000})
	send(t, c, addr, make([]byte, 1001))
	d, err := c.ReceiveDatagram(tctx(t, 5*time.Second))
	if !errors.Is(err, udp.ErrTruncated) || d.Addr != addr || d.Data != nil {
		t.Fatalf("ReceiveDatagram: %v %v %d bytes", err, d.Addr, len(d.Data))
	}
	if d := roundTrip(t, c, addr, make([]byte, 1000)); len(d.Data) != 1000 {
		t.Fatalf("reply has %d bytes", len(d.Data))
	}
	send(t, c, addr, []byte("0123456789"))
	buf := make([]byte, 9)
	if _, from, err := c.ReceiveDatagramInto(tctx(t, 5*time.Second), buf); !errors.Is(err, udp.ErrTruncated) || from != addr {
		t.Fatalf("ReceiveDatagramInto: %v from %v", err, from)
	}
}

// MaxDatagramSize: custom split size; negative disables splitting.
func TestMaxDatagramSize(t *testing.T) {
	sizes := make(chan int, 16)
	_, addr := startListener(t, nil, udp.BytesFunc(func(_ udp.Caller, b []byte) ([]byte, error) {
		sizes <- len(b)
		return nil, nil
	}))
	c := newClient(t, &udp.ClientConfig{LocalHost: "127.0.0.1", MaxDatagramSize: 1000})
	send(t, c, addr, make([]byte, 2500))
	for _, want := range []int{1000, 1000, 500} {
		if got := <-sizes; got != want {
			t.Fatalf("datagram of %d bytes, want %d", got, want)
		}
	}
	send(t, c, addr, nil) // one empty datagram
	if got := <-sizes; got != 0 {
		t.Fatalf("empty send arrived with %d bytes", got)
	}
	nc := newClient(t, &udp.ClientConfig{LocalHost: "127.0.0.1", MaxDatagramSize: -1})
	send(t, nc, addr, make([]byte, 20000))
	if got := <-sizes; got != 20000 {
		t.Fatalf("unsplit datagram of %d bytes", got)
	}
	err := nc.SendDatagram(context.Background(), udp.Datagram{Addr: addr, Data: make([]byte, 65508)})
	if !errors.Is(err, udp.ErrDatagramTooLarge) {
		t.Fatalf("65508 bytes unsplit: %v", err)
	}
	if err := c.SendDatagram(context.Background(), udp.Datagram{Data: []byte("x")}); err == nil {
		t.Fatal("send without address accepted")
	}
}

// Close is idempotent; afterwards calls fail with net.ErrClosed.
func TestClientClose(t *testing.T) {
	c, err := udp.NewClient(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c.ReceiveDatagram(context.Background())
		errc <- err
	}()
	// Close while the receive may or may not have started: either way it must end with ErrClosed.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("receive after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not interrupt the receive")
	}
	to := netip.MustParseAddrPort("127.0.0.1:9")
	if err := c.SendDatagram(context.Background(), udp.Datagram{Addr: to, Data: []byte("x")}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("send after Close: %v", err)
	}
}

// IPv6 loopback: listener on [::1], client on [::1].
func TestIPv6Loopback(t *testing.T) {
	probe, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback on this machine: %v", err)
	}
	probe.Close()
	forModes(t, func(t *testing.T, m mode) {
		cfg := &udp.ListenerConfig{LocalHost: "::1"}
		m.cfg(cfg)
		_, addr := startListener(t, cfg, udp.DatagramFunc(func(c udp.Caller, d udp.Datagram) (udp.Datagram, error) {
			return udp.Datagram{Data: []byte(c.RemoteHost())}, nil
		}))
		if !addr.Addr().Is6() {
			t.Fatalf("listener on %v", addr)
		}
		c := newClient(t, &udp.ClientConfig{LocalHost: "::1"})
		d := roundTrip(t, c, addr, []byte("v6"))
		if string(d.Data) != "::1" || d.Addr != addr || d.RemoteHost() != "::1" {
			t.Fatalf("reply %q from %v", d.Data, d.Addr)
		}
		to, err := udp.ResolveAddr("[::1]", int(addr.Port()))
		if err != nil || to != addr {
			t.Fatalf("ResolveAddr [::1]: %v %v", to, err)
		}
	})
}

func TestResolveAddr(t *testing.T) {
	for _, tc := range []struct {
		host string
		port int
		want string
	}{
		{"127.0.0.1", 80, "127.0.0.1:80"},
		{"localhost", 53, "127.0.0.1:53"},
		{"::ffff:10.1.2.3", 1, "10.1.2.3:1"},
		{"::1", 0, "[::1]:0"},
		{"[fe80::1%eth0]", 9, "[fe80::1%eth0]:9"},
	} {
		got, err := udp.ResolveAddr(tc.host, tc.port)
		if err != nil || got.String() != tc.want {
			t.Errorf("ResolveAddr(%q, %d) = %v, %v; want %s", tc.host, tc.port, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		host string
		port int
	}{{"", 1}, {"127.0.0.1", -1}, {"127.0.0.1", 65536}, {"bad host name!", 1}} {
		if _, err := udp.ResolveAddr(tc.host, tc.port); err == nil {
			t.Errorf("ResolveAddr(%q, %d) succeeded", tc.host, tc.port)
		}
	}
	d := udp.Datagram{}
	if d.RemoteHost() != "" || d.RemotePort() != 0 {
		t.Error("zero Datagram has a host or port")
	}
}

// A busy client keeps its socket deadline instead of resetting it on every
// call; a call that the older deadline wakes early must still wait for its
// full Timeout.
func TestClientTimeoutAfterBusyCall(t *testing.T) {
	const timeout = 400 * time.Millisecond
	_, addr := startListener(t, nil, udp.Echo)
	c := newClient(t, &udp.ClientConfig{LocalHost: "127.0.0.1", Timeout: timeout})
	send(t, c, addr, []byte("ping"))
	if _, err := c.ReceiveDatagram(context.Background()); err != nil { // arms the deadline at now+400ms
		t.Fatal(err)
	}
	<-time.After(150 * time.Millisecond) // let time pass (not synchronisation)
	start := time.Now()
	_, err := c.ReceiveDatagram(context.Background())
	el := time.Since(start)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("ReceiveDatagram: %v", err)
	}
	if el < timeout-10*time.Millisecond {
		t.Fatalf("timed out after %v, want %v", el, timeout)
	}
}
