// Command tcp-echo-listener is the Ballerina tcp module's listener sample:
// onConnect prints the client's port and returns an EchoService whose
// onBytes writes the data back and whose onClose prints who left.
//
//	go run ./examples/tcp-echo-listener -port 3000
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

	"github.com/netkit-go/netkit/tcp"
)

// EchoService is the per-connection service of the sample.
type EchoService struct {
	caller *tcp.Caller
	out    io.Writer
}

// OnBytes echoes the data back to the client.
func (s *EchoService) OnBytes(c *tcp.Caller, data []byte) ([]byte, error) { return data, nil }

// OnError logs an error on the connection.
func (s *EchoService) OnError(c *tcp.Caller, err error) { log.Printf("An error occurred: %v", err) }

// OnClose prints which client left.
func (s *EchoService) OnClose(c *tcp.Caller) {
	fmt.Fprintln(s.out, "Client left:", s.caller.RemotePort())
}

// run serves until ctx ends; ready receives the bound address.
func run(ctx context.Context, host string, port int, out io.Writer, ready chan<- net.Addr) error {
	l, err := tcp.NewListener(port, &tcp.ListenerConfig{LocalHost: host})
	if err != nil {
		return err
	}
	err = l.Attach(tcp.ServiceFunc(func(c *tcp.Caller) (tcp.ConnectionService, error) {
		fmt.Fprintln(out, "Client connected to echoServer:", c.RemotePort())
		return &EchoService{caller: c, out: out}, nil
	}))
	if err != nil {
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
	port := flag.Int("port", 3000, "port to listen on")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *host, *port, os.Stdout, nil); err != nil {
		log.Fatal(err)
	}
}
