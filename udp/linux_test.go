//go:build linux

package udp_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/netkit-go/netkit/udp"
)

// With SO_NO_CHECK set, Linux refuses UDP GSO sends (EINVAL): the batched
// loop must fall back to one datagram per message and lose nothing.
func TestGSOFallback(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	cfg := &udp.ListenerConfig{ListenConfig: &net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_NO_CHECK, 1) })
		if err != nil {
			return err
		}
		return serr
	}}}
	l, addr := startListener(t, cfg, udp.BytesFunc(func(_ udp.Caller, b []byte) ([]byte, error) {
		once.Do(func() { <-release })
		return b, nil
	}))
	c := newClient(t, nil)
	const n = 30
	for i := range n {
		send(t, c, addr, bytes.Repeat([]byte{byte(i)}, 100))
	}
	close(release)
	for i := range n {
		if d := recv(t, c); len(d.Data) != 100 || d.Data[0] != byte(i) {
			t.Fatalf("reply %d: %d bytes starting %d", i, len(d.Data), d.Data[0])
		}
	}
	if s := l.Stats(); s.Errors != 0 || s.Received != n {
		t.Fatalf("stats %+v", s)
	}
}

// A connected client whose peer port is closed gets "Port unreachable"
// (Linux reports the ICMP error on the next read).
func TestConnectClientPortUnreachable(t *testing.T) {
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	c, err := udp.NewConnectClient(context.Background(), "127.0.0.1", port, &udp.ConnectClientConfig{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteBytes(context.Background(), []byte("anyone?")); err != nil {
		t.Fatal(err)
	}
	_, err = c.ReadBytes(context.Background())
	if !errors.Is(err, syscall.ECONNREFUSED) || !bytes.HasPrefix([]byte(err.Error()), []byte("Port unreachable")) {
		t.Fatalf("ReadBytes: %v", err)
	}
}
