package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netkit-go/netkit/examples/internal/peer"
	"github.com/netkit-go/netkit/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSample(t *testing.T) {
	out := &syncBuf{}
	addr, stop := peer.Server(t, func(ctx context.Context, host string, port int, ready chan<- net.Addr) error {
		return run(ctx, host, port, out, ready)
	})
	conn, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	conn.Write([]byte("Hello Ballerina"))
	buf := make([]byte, 64)
	n, err := conn.Read(buf)
	if err != nil || string(buf[:n]) != "Hello Ballerina" {
		t.Fatalf("echo %q, %v", buf[:n], err)
	}
	port := conn.LocalAddr().(*net.TCPAddr).Port
	conn.Close()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("Client connected to echoServer: %d\nClient left: %d\n", port, port)
	if got := out.String(); !strings.Contains(got, want) {
		t.Fatalf("output %q, want %q", got, want)
	}
}
