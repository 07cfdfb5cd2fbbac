// Command socket-echo-server-0990 is the listener sample of Ballerina's
// socket 0.990 module overview (seed 000): an echo server whose service has
// onAccept, onReadReady(caller, content), onClose and onError.
//
//	listener socket:Server server = new ({ port:61598 });
//	service echoServer on server {
//	    resource function onAccept (socket:Caller caller) { io:println("Join: ", caller.remotePort); }
//	    resource function onReadReady (socket:Caller caller, byte[] content) { _ = caller->write(content); }
//	    resource function onClose(socket:Caller caller) { io:println("Leave: " + caller.remotePort); }
//	    resource function onError(socket:Caller caller, error er) { io:println(er.reason()); }
//	}
//
// Usage: socket-echo-server-0990 [-port 61598] [-interface addr]. Port 0
// picks a free port; the startup line names it. SIGINT or SIGTERM stops the
// listener gracefully.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/netkit-go/netkit/socket"
)

// echoServer is the sample's service: 0.990 style, since its OnReadReady
// receives the content.
type echoServer struct{}

func (echoServer) OnAccept(caller *socket.Caller) {
	fmt.Println("Join:", caller.RemotePort())
}

func (echoServer) OnReadReady(caller *socket.Caller, content []byte) {
	caller.Write(context.Background(), content)
}

func (echoServer) OnClose(caller *socket.Caller) {
	fmt.Println("Leave:", caller.RemotePort())
}

func (echoServer) OnError(caller *socket.Caller, err error) {
	fmt.Println(err)
}

func main() {
	port := flag.Int("port", 61598, "port to listen on (0: any free port)")
	iface := flag.String("interface", "", "local address to bind (default: every interface)")
	flag.Parse()
	if err := run(*port, *iface); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(port int, iface string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	server, err := socket.NewListener(port, &socket.ListenerConfig{Interface: iface})
	if err != nil {
		return err
	}
	if err := server.Attach(echoServer{}); err != nil {
		return err
	}
	if err := server.Start(); err != nil {
		return err
	}
	fmt.Println("[ballerina/socket] started socket listener", server.Port())
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return server.GracefulStop(sctx)
}
