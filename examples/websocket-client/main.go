// Command websocket-client is the client side of the Ballerina websocket
// module's sample (seed 004): a synchronous websocket:Client writes a text
// message to the echo service at ws://localhost:21003/ws, reads the reply
// with readTextMessage and closes.
//
//	go run ./examples/websocket-client -url ws://localhost:21003/ws
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/netkit-go/netkit/websocket"
)

func run(ctx context.Context, url, msg string, out io.Writer) error {
	wsClient, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return err
	}
	if err := wsClient.WriteTextMessage(ctx, []byte(msg)); err != nil {
		return err
	}
	textResp, err := wsClient.ReadTextMessage(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Received: %s\n", textResp)
	return wsClient.Close(ctx, 1000, "")
}

func main() {
	url := flag.String("url", "ws://localhost:21003/ws", "the echo service")
	msg := flag.String("message", "Hello Ballerina", "the text to send")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, *url, *msg, os.Stdout); err != nil {
		log.Fatal(err)
	}
}
