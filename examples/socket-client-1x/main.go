// Command socket-client-1x is the TCP client sample of Ballerina's socket
// 1.x module overview (seeds 001 and 003): a client with a callback service
// that writes "Hello Ballerina\n".
//
//	socket:Client socketClient = new ({host: "localhost", port: 61598, callbackService: ClientService});
//	var writeResult = socketClient->write("Hello Ballerina\n".toBytes());
//	service ClientService = service {
//	    resource function onConnect(socket:Caller caller) { io:println("connect: ", caller.remotePort); }
//	}
//
// A 1.x callback service also has onReadReady (Ballerina's compiler required
// it); here it pulls the server's reply with Read and prints it. The program
// exits once the whole message has come back (from an echo server such as
// socket-listener-1x) or the server closed.
//
// Usage: socket-client-1x [-host localhost] [-port 61598]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/netkit-go/netkit/socket"
)

const msg = "Hello Ballerina\n"

// clientService is the sample's callback service (1.x style).
type clientService struct {
	received []byte        // only touched by OnReadReady, which never overlaps
	done     chan struct{} // closed when the reply is complete or the server left
}

func (s *clientService) OnConnect(caller *socket.Caller) {
	fmt.Println("connect:", caller.RemotePort())
}

func (s *clientService) OnReadReady(caller *socket.Caller) {
	content, err := caller.Read(context.Background(), socket.ReadAvailable)
	s.received = append(s.received, content...)
	if len(content) > 0 {
		fmt.Printf("received: %q\n", content)
	}
	if err != nil || len(s.received) >= len(msg) {
		close(s.done)
	}
}

func (s *clientService) OnError(caller *socket.Caller, err error) {
	fmt.Println(err)
}

func main() {
	host := flag.String("host", "localhost", "server host")
	port := flag.Int("port", 61598, "server port")
	flag.Parse()
	if err := run(*host, *port); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(host string, port int) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	svc := &clientService{done: make(chan struct{})}
	socketClient, err := socket.NewClient(ctx, socket.ClientConfig{Host: host, Port: port, CallbackService: svc})
	if err != nil {
		return err
	}
	defer socketClient.Close()
	writeResult, err := socketClient.Write(ctx, []byte(msg))
	if err != nil {
		return err
	}
	fmt.Println("wrote", writeResult, "bytes")
	select {
	case <-svc.done:
	case <-ctx.Done():
	}
	return nil
}
