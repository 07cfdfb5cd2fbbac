// Command socket-udp-client-1x is the UDP client sample of Ballerina's socket
// 1.x module overview (seeds 001 and 003): it sends "Hello from UDP client"
// to localhost:48826.
//
//	socket:UdpClient socketClient = new;
//	int|socket:Error sendResult = socketClient->sendTo("Hello from UDP client".toBytes(),
//	    { host: "localhost", port: 48826 });
//
// With -receive it then waits (at most -timeout) for one reply datagram with
// receiveFrom() and prints it, as the "Basic UDP Client Socket" example does.
//
// Usage: socket-udp-client-1x [-host localhost] [-port 48826] [-receive] [-timeout 5s]
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

func main() {
	host := flag.String("host", "localhost", "server host")
	port := flag.Int("port", 48826, "server port")
	receive := flag.Bool("receive", false, "wait for a reply and print it")
	timeout := flag.Duration("timeout", 5*time.Second, "how long to wait for the reply")
	flag.Parse()
	if err := run(*host, *port, *receive, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(host string, port int, receive bool, timeout time.Duration) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	socketClient, err := socket.NewUdpClient(ctx, nil, &socket.UdpClientConfig{ReadTimeout: timeout})
	if err != nil {
		return err
	}
	defer socketClient.Close()
	msg := "Hello from UDP client"
	sendResult, err := socketClient.SendTo(ctx, []byte(msg), socket.Address{Host: host, Port: port})
	if err != nil {
		return err
	}
	fmt.Println("sent", sendResult, "bytes")
	if !receive {
		return nil
	}
	content, length, from, err := socketClient.ReceiveFrom(ctx, socket.ReadAvailable)
	if err != nil {
		return err
	}
	fmt.Printf("received %d bytes from %s: %q\n", length, from, content)
	return nil
}
