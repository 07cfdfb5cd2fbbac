package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/netkit-go/netkit/examples/internal/peer"
	"github.com/netkit-go/netkit/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func TestSample(t *testing.T) {
	url := peer.WSEcho(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, url, "Hello Ballerina", &out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "Received: Hello Ballerina\n" {
		t.Fatalf("output %q", got)
	}
}
