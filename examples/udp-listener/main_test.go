package main

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/netkit-go/netkit/examples/internal/peer"
	"github.com/netkit-go/netkit/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// lines is a writer that hands each write to the test.
type lines chan string

func (l lines) Write(p []byte) (int, error) {
	l <- string(p)
	return len(p), nil
}

func TestSample(t *testing.T) {
	out := make(lines, 4)
	addr, stop := peer.Server(t, func(ctx context.Context, host string, port int, ready chan<- net.Addr) error {
		return run(ctx, host, port, out, ready)
	})
	conn, err := net.Dial("udp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	conn.Write([]byte("Hello Ballerina echo"))
	buf := make([]byte, 64)
	n, err := conn.Read(buf)
	if err != nil || string(buf[:n]) != "Hello Ballerina echo" {
		t.Fatalf("echo %q, %v", buf[:n], err)
	}
	if got := <-out; got != "Received by listener: Hello Ballerina echo\n" {
		t.Fatalf("printed %q", got)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
