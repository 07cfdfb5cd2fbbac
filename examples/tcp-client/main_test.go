package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/leakcheck"
	"github.com/netkit-go/netkit/tcp"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func TestSample(t *testing.T) {
	l, err := tcp.NewListener(0, &tcp.ListenerConfig{LocalHost: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	l.Attach(tcp.EchoService)
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	defer l.ImmediateStop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, "127.0.0.1", l.Port(), &out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "Received: Hello Ballerina\n" {
		t.Fatalf("output %q", got)
	}
}
