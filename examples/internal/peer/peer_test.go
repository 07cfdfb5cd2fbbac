package peer

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/leakcheck"
	"github.com/netkit-go/netkit/websocket"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func roundTrip(t *testing.T, network, addr string) {
	t.Helper()
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("peer"))
	buf := make([]byte, 16)
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != "peer" {
		t.Fatalf("%s echo %q, %v", network, buf[:n], err)
	}
}

func TestEchoes(t *testing.T) {
	roundTrip(t, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(TCPEcho(t))))
	roundTrip(t, "udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(UDPEcho(t))))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := websocket.Dial(ctx, WSEcho(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.WriteTextMessage(ctx, []byte("peer"))
	if s, err := c.ReadTextMessage(ctx); err != nil || string(s) != "peer" {
		t.Fatalf("ws echo %q, %v", s, err)
	}
	c.Close(ctx, 1000, "")
}

func TestServerStartsAndStops(t *testing.T) {
	sentinel := errors.New("stopped")
	addr, stop := Server(t, func(ctx context.Context, host string, port int, ready chan<- net.Addr) error {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return err
		}
		defer ln.Close()
		ready <- ln.Addr()
		<-ctx.Done()
		return sentinel
	})
	if addr == nil {
		t.Fatal("no address")
	}
	if err := stop(); !errors.Is(err, sentinel) {
		t.Fatalf("stop: %v", err)
	}
}
