package socket_test

import (
	"context"
	"fmt"
	"log"

	"github.com/netkit-go/netkit/socket"
)

// echoService is a 0.990 (push) service: OnReadReady receives the content.
type echoService struct{}

func (echoService) OnReadReady(c *socket.Caller, content []byte) {
	c.Write(context.Background(), content) // content is borrowed: use it before returning
}

// A 0.990 echo server (seed 000's socket:Server) and a client without
// callback service reading the echo.
func ExampleNewListener() {
	ctx := context.Background()
	server, err := socket.NewListener(0, &socket.ListenerConfig{Interface: "127.0.0.1"})
	if err != nil {
		log.Fatal(err)
	}
	if err := server.Attach(echoService{}); err != nil {
		log.Fatal(err)
	}
	if err := server.Start(); err != nil {
		log.Fatal(err)
	}
	defer server.GracefulStop(ctx)

	client, err := socket.NewClient(ctx, socket.ClientConfig{Host: "127.0.0.1", Port: server.Port()})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	n, _ := client.Write(ctx, []byte("Hello Ballerina"))
	reply, _ := client.Read(ctx, n) // exactly n bytes
	fmt.Printf("%s\n", reply)
	// Output: Hello Ballerina
}

// partialReader is a 1.x (pull) service: OnReadReady is told that data is
// there and pulls it with Read.
type partialReader struct{}

func (partialReader) OnReadReady(c *socket.Caller) {
	ctx := context.Background()
	for _, n := range []int{5, 4, 6} {
		b, err := c.Read(ctx, n) // blocks until n bytes have arrived
		if err != nil {          // io.EOF, or the listener stopping first
			c.Close()
			return
		}
		fmt.Printf("read(%d): %q\n", n, b)
	}
	c.Write(ctx, []byte("Hello Client"))
}

// A 1.x listener whose service pulls with Caller.Read, as in the partial
// read test of Ballerina's socket module.
func ExampleCaller_Read() {
	ctx := context.Background()
	server, _ := socket.NewListener(0, &socket.ListenerConfig{Interface: "127.0.0.1"})
	server.Attach(partialReader{})
	if err := server.Start(); err != nil {
		log.Fatal(err)
	}
	defer server.GracefulStop(ctx)

	client, err := socket.NewClient(ctx, socket.ClientConfig{Host: "127.0.0.1", Port: server.Port()})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	client.Write(ctx, []byte("Hello Ballerina"))
	reply, _ := client.Read(ctx, 12)
	fmt.Printf("%s\n", reply)
	// Output:
	// read(5): "Hello"
	// read(4): " Bal"
	// read(6): "lerina"
	// Hello Client
}

// clientService is a 0.990 client callback service.
type clientService struct{ got chan string }

func (s clientService) OnConnect(c *socket.Caller) { fmt.Println("connected") }
func (s clientService) OnReadReady(c *socket.Caller, content []byte) {
	s.got <- string(content) // a string copies the borrowed bytes
}
func (s clientService) OnClose(c *socket.Caller) { fmt.Println("closed") }

// A client with a callback service (seed 000's socket:Client with
// callbackService): the server's data arrives in OnReadReady.
func ExampleNewClient() {
	ctx := context.Background()
	server, _ := socket.NewListener(0, &socket.ListenerConfig{Interface: "127.0.0.1"})
	server.Attach(echoService{})
	if err := server.Start(); err != nil {
		log.Fatal(err)
	}
	defer server.GracefulStop(ctx)

	svc := clientService{got: make(chan string, 1)}
	client, err := socket.NewClient(ctx, socket.ClientConfig{
		Host: "127.0.0.1", Port: server.Port(), CallbackService: svc,
	})
	if err != nil {
		log.Fatal(err)
	}
	client.Write(ctx, []byte("ping"))
	fmt.Println(<-svc.got)
	client.Close() // waits for OnClose
	// Output:
	// connected
	// ping
	// closed
}

// A UDP exchange between two UdpClients (seed 001's socket:UdpClient).
func ExampleUdpClient() {
	ctx := context.Background()
	server, err := socket.NewUdpClient(ctx, &socket.Address{Host: "127.0.0.1"}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer server.Close()
	client, err := socket.NewUdpClient(ctx, nil, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	n, _ := client.SendTo(ctx, []byte("Hello from UDP client"), socket.Address{Host: "127.0.0.1", Port: server.LocalPort()})
	fmt.Println("sent", n)
	content, length, from, _ := server.ReceiveFrom(ctx, socket.ReadAvailable)
	fmt.Printf("received %d: %s\n", length, content)
	server.SendTo(ctx, []byte("This is server"), from) // reply to the sender
	content, _, _, _ = client.ReceiveFrom(ctx, socket.ReadAvailable)
	fmt.Printf("%s\n", content)
	// Output:
	// sent 21
	// received 21: Hello from UDP client
	// This is server
}
