// Command udp-listener is the Ballerina udp module's listener sample: a
// service on udp:Listener(48826) whose onDatagram prints what it received
// and returns the datagram, which echoes it to its sender.
//
//	go run ./examples/udp-listener -port 48826
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"

	"github.com/netkit-go/netkit/udp"
)

// onDatagram prints the datagram and returns it: a returned Datagram is
// sent to its address, here the sender's.
func onDatagram(out io.Writer) udp.DatagramFunc {
	return func(c udp.Caller, datagram udp.Datagram) (udp.Datagram, error) {
		fmt.Fprintln(out, "Received by listener:", string(datagram.Data))
		return datagram, nil
	}
}

// run serves until ctx ends; ready receives the bound address.
func run(ctx context.Context, host string, port int, out io.Writer, ready chan<- net.Addr) error {
	l, err := udp.NewListener(port, &udp.ListenerConfig{LocalHost: host})
	if err != nil {
		return err
	}
	if err := l.Attach(onDatagram(out)); err != nil {
		return err
	}
	if err := l.Start(); err != nil {
		return err
	}
	if ready != nil {
		ready <- l.Addr()
	}
	<-ctx.Done()
	return l.GracefulStop(context.Background())
}

func main() {
	host := flag.String("host", "127.0.0.1", "address to bind")
	port := flag.Int("port", 48826, "port to listen on")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *host, *port, os.Stdout, nil); err != nil {
		log.Fatal(err)
	}
}
