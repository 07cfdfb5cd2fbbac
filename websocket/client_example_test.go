package websocket_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/netkit-go/netkit/websocket"
)

// ExampleDial reads and writes with the synchronous Client.
func ExampleDial() {
	ctx := context.Background()
	c, err := websocket.Dial(ctx, "ws://127.0.0.1:21003/echo", &websocket.ClientConfig{
		ReadTimeout: 5 * time.Second,
		Retry:       &websocket.RetryConfig{MaxCount: 3},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close(ctx, 1000, "bye")
	if err := c.WriteTextMessage(ctx, []byte("hello")); err != nil {
		log.Fatal(err)
	}
	reply, err := c.ReadTextMessage(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(reply))
}

// ExampleDialAsync serves a client connection with callbacks.
func ExampleDialAsync() {
	ctx := context.Background()
	c, err := websocket.DialAsync(ctx, "ws://127.0.0.1:21003/echo", &websocket.ServiceFuncs{
		OnTextMessage: func(c *websocket.Conn, text []byte) error {
			fmt.Printf("received %s\n", text)
			return c.Close(context.Background(), 1000, "done")
		},
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	c.WriteTextMessage(ctx, []byte("hello"))
	<-c.Done()
}
