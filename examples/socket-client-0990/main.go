// Command socket-client-0990 is the client sample of Ballerina's socket
// 0.990 module overview (seed 000): a client with a callback service that
// writes back whatever the server sends.
//
//	socket:Client socketClient = new({host: "localhost", port: 9999, callbackService: ClientService});
//	_ = socketClient->write("Hello Ballerina\n".toByteArray("utf-8"));
//	service ClientService = service {
//	    resource function onConnect(socket:Caller caller) { io:println("connect: ", caller.remotePort); }
//	    resource function onReadReady (socket:Caller caller, byte[] content) {
//	        io:println("client write"); _ = caller->write(content); }
//	    resource function onClose(socket:Caller caller) { io:println("Leave: ", caller.remotePort); }
//	    resource function onError(socket:Caller caller, error er) { io:println(er.reason()); }
//	};
//
// Against an echo server (socket-echo-server-0990) the message would go back
// and forth for ever, so -max bounds the round trips: after that many
// OnReadReady calls the client closes. The program exits after OnClose.
//
// Usage: socket-client-0990 [-host localhost] [-port 9999] [-max 3]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/netkit-go/netkit/socket"
)

// clientService is the sample's callback service (0.990 style).
type clientService struct {
	max    int64
	calls  atomic.Int64
	closed chan struct{}
}

func (s *clientService) OnConnect(caller *socket.Caller) {
	fmt.Println("connect:", caller.RemotePort())
}

func (s *clientService) OnReadReady(caller *socket.Caller, content []byte) {
	fmt.Println("client write")
	caller.Write(context.Background(), content)
	if s.max > 0 && s.calls.Add(1) >= s.max {
		caller.Close()
	}
}

func (s *clientService) OnClose(caller *socket.Caller) {
	fmt.Println("Leave:", caller.RemotePort())
	close(s.closed)
}

func (s *clientService) OnError(caller *socket.Caller, err error) {
	fmt.Println(err)
}

func main() {
	host := flag.String("host", "localhost", "server host")
	port := flag.Int("port", 9999, "server port")
	maxCalls := flag.Int64("max", 3, "close after this many OnReadReady calls (0: never)")
	flag.Parse()
	if err := run(*host, *port, *maxCalls); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(host string, port int, maxCalls int64) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	svc := &clientService{max: maxCalls, closed: make(chan struct{})}
	socketClient, err := socket.NewClient(ctx, socket.ClientConfig{Host: host, Port: port, CallbackService: svc})
	if err != nil {
		return err
	}
	defer socketClient.Close()
	msg := "Hello Ballerina\n"
	if _, err := socketClient.Write(ctx, []byte(msg)); err != nil {
		return err
	}
	select {
	case <-svc.closed:
	case <-ctx.Done():
	}
	return nil
}
