// Command udp-client is the Ballerina udp module's connectionless client
// sample: it sends a datagram to localhost:48826 with sendDatagram, waits
// for the reply with receiveDatagram, prints it and closes.
//
//	go run ./examples/udp-client -host localhost -port 48826
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
	socketClient, err := udp.NewClient(ctx, nil)
	if err != nil {
		return err
	}
	defer socketClient.Close()
	to, err := udp.ResolveAddr(host, port)
	if err != nil {
		return err
	}
	datagram := udp.Datagram{Addr: to, Data: []byte(msg)}
	if err := socketClient.SendDatagram(ctx, datagram); err != nil {
		return err
	}
	result, err := socketClient.ReceiveDatagram(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, string(result.Data))
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
