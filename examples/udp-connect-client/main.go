// Command udp-connect-client is the Ballerina udp module's ConnectClient
// sample: a client connected to localhost:48826 writes bytes with
// writeBytes, reads the reply with readBytes, prints it and closes.
//
//	go run ./examples/udp-connect-client -host localhost -port 48826
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/netkit-go/netkit/udp"
)

func run(ctx context.Context, host string, port int, msg string, out io.Writer) error {
	socketClient, err := udp.NewConnectClient(ctx, host, port, nil)
	if err != nil {
		return err
	}
	defer socketClient.Close()
	if err := socketClient.WriteBytes(ctx, []byte(msg)); err != nil {
		return err
	}
	response, err := socketClient.ReadBytes(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, string(response))
	return socketClient.Close()
}

func main() {
	host := flag.String("host", "localhost", "server host")
	port := flag.Int("port", 48826, "server port")
	msg := flag.String("message", "Hello Ballerina echo", "the datagram's text")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, *host, *port, *msg, os.Stdout); err != nil {
		log.Fatal(err)
	}
}
