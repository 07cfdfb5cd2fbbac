package main

import (
	"context"
	"testing"
	"time"

	"github.com/netkit-go/netkit/examples/internal/peer"
	"github.com/netkit-go/netkit/internal/leakcheck"
	"github.com/netkit-go/netkit/websocket"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func TestSample(t *testing.T) {
	addr, stop := peer.Server(t, run)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := websocket.Dial(ctx, "ws://"+addr.String()+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{"Hello Ballerina", "ünïcödé"} {
		if err := c.WriteTextMessage(ctx, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		if got, err := c.ReadTextMessage(ctx); err != nil || string(got) != msg {
			t.Fatalf("echo %q, %v", got, err)
		}
	}
	if err := c.Close(ctx, 1000, ""); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
