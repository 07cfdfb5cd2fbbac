// Command socket-listener-1x is the listener sample of Ballerina's socket
// 1.x module overview (seeds 001 and 003): onConnect, and onReadReady
// pulling the data with caller->read().
//
//	listener socket:Listener server = new(61598);
//	service echoServer on server {
//	    resource function onConnect(socket:Caller caller) { io:println("connect: ", caller.remotePort); }
//	    resource function onReadReady(socket:Caller caller) {
//	        [byte[], int]|socket:ReadTimedOutError result = caller->read(); }
//	}
//
// The sample stops at the read; this program, like the "Basic TCP Socket"
// example it points to, prints what it read and echoes it back, and closes
// the connection at the client's end of stream.
//
// Usage: socket-listener-1x [-port 61598] [-interface addr]. Port 0 picks a
// free port; the startup line names it. SIGINT or SIGTERM stops it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/netkit-go/netkit/socket"
)

// echoServer is the sample's service: 1.x style, since its OnReadReady
// pulls with Read.
type echoServer struct{}

func (echoServer) OnConnect(caller *socket.Caller) {
	fmt.Println("connect:", caller.RemotePort())
}

func (echoServer) OnReadReady(caller *socket.Caller) {
	content, err := caller.Read(context.Background(), socket.ReadAvailable)
	switch {
	case errors.Is(err, io.EOF):
		fmt.Println("disconnect:", caller.RemotePort())
		caller.Close()
		return
	case err != nil:
		fmt.Println("read failed:", err)
		return
	}
	fmt.Printf("received %d bytes: %q\n", len(content), content)
	caller.Write(context.Background(), content)
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
