// Command tcp-client is the Ballerina tcp module's client sample: it
// connects, writes "Hello Ballerina", reads the reply and closes.
//
//	go run ./examples/tcp-client -host localhost -port 3000
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/netkit-go/netkit/tcp"
)

func run(ctx context.Context, host string, port int, out io.Writer) error {
	socketClient, err := tcp.NewClient(ctx, host, port, nil)
	if err != nil {
		return err
	}
	defer socketClient.Close()
	msg := "Hello Ballerina"
	if err := socketClient.WriteBytes(ctx, []byte(msg)); err != nil {
		return err
	}
	receivedData, err := socketClient.ReadBytes(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "Received:", string(receivedData))
	return socketClient.Close()
}

func main() {
	host := flag.String("host", "localhost", "server host")
	port := flag.Int("port", 3000, "server port")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, *host, *port, os.Stdout); err != nil {
		log.Fatal(err)
	}
}
