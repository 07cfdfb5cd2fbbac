package hub_test

import (
	"context"
	"fmt"

	"github.com/netkit-go/netkit/hub"
	"github.com/netkit-go/netkit/hub/natsbroker"
	"github.com/netkit-go/netkit/websocket"
)

// A chat room: every connection to /chat joins topic chat.lobby, and what
// one sends goes to all.
func Example() {
	h := hub.New(nil) // in memory: a single node
	defer h.GracefulStop(context.Background())
	joined := make(chan struct{}, 1)
	svc := websocket.ServiceFuncs{
		OnOpen: func(c *websocket.Conn) error {
			err := h.Subscribe(c.Context(), c, "chat.*")
			joined <- struct{}{}
			return err
		},
		OnTextMessage: func(c *websocket.Conn, text []byte) error {
			return h.Publish(c.Context(), "chat.lobby", websocket.TextMessage, text)
		},
	}
	l, _ := websocket.NewListener(0, &websocket.ListenerConfig{Host: "127.0.0.1"})
	l.Attach("/chat", websocket.Static(svc), nil)
	l.Start()
	defer l.ImmediateStop()

	ctx := context.Background()
	cl, err := websocket.Dial(ctx, "ws://"+l.Addr().String()+"/chat", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cl.Close(ctx, 1000, "")
	<-joined
	cl.WriteTextMessage(ctx, []byte("hello, room"))
	m, _ := cl.ReadTextMessage(ctx)
	fmt.Println(string(m))
	// Output: hello, room
}

func ExampleMatch() {
	fmt.Println(hub.Match("prices.*", "prices.eur"), hub.Match("prices.*", "prices.eur.spot"), hub.Match("prices.>", "prices.eur.spot"))
	// Output: true false true
}

// Across nodes: each node's hub uses its own NATS connection.
func ExampleConfig_nats() {
	b, err := natsbroker.Connect(context.Background(), &natsbroker.Config{URL: "nats://127.0.0.1:4222", Prefix: "chat"})
	if err != nil {
		fmt.Println(err)
		return
	}
	h := hub.New(&hub.Config{Broker: b, Policy: hub.DropNewest})
	defer h.GracefulStop(context.Background())
	// Serve h's subscribers as in Example; a message published on any
	// node reaches them.
}
