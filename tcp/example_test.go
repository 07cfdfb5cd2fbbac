package tcp_test

import (
	"context"
	"fmt"
	"log"

	"github.com/netkit-go/netkit/tcp"
)

// echoService is the seed's EchoService: one per connection, it writes back
// what it receives.
type echoService struct{ caller *tcp.Caller }

// OnBytes echoes the data back to the client (data is borrowed; returning it
// is allowed because the reply is written before the buffer is reused).
func (s *echoService) OnBytes(c *tcp.Caller, data []byte) ([]byte, error) {
	return data, nil
}

// OnError is told about errors on the connection.
func (s *echoService) OnError(c *tcp.Caller, err error) {
	log.Printf("An error occurred: %v", err)
}

// OnClose runs once, when the client has left.
func (s *echoService) OnClose(c *tcp.Caller) {
	fmt.Println("Client left")
}

func ExampleListener() {
	// The seed uses port 3000; the example takes any free port.
	l, err := tcp.NewListener(0, &tcp.ListenerConfig{LocalHost: "127.0.0.1"})
	if err != nil {
		log.Fatal(err)
	}
	err = l.Attach(tcp.ServiceFunc(func(c *tcp.Caller) (tcp.ConnectionService, error) {
		fmt.Println("Client connected to echoServer")
		return &echoService{caller: c}, nil
	}))
	if err != nil {
		log.Fatal(err)
	}
	if err := l.Start(); err != nil {
		log.Fatal(err)
	}

	// A client says hello.
	ctx := context.Background()
	c, err := tcp.NewClient(ctx, "127.0.0.1", l.Port(), nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := c.WriteBytes(ctx, []byte("Hello Ballerina")); err != nil {
		log.Fatal(err)
	}
	reply, err := c.ReadBytes(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("Echo: %s\n", reply)
	c.Close()

	// GracefulStop waits for the connection to finish (OnClose included).
	if err := l.GracefulStop(ctx); err != nil {
		log.Fatal(err)
	}
	// Output:
	// Client connected to echoServer
	// Echo: Hello Ballerina
	// Client left
}

func ExampleNewClient() {
	// A server to talk to: an echo listener on a free loopback port.
	l, err := tcp.NewListener(0, &tcp.ListenerConfig{LocalHost: "127.0.0.1"})
	if err != nil {
		log.Fatal(err)
	}
	l.Attach(tcp.EchoService)
	if err := l.Start(); err != nil {
		log.Fatal(err)
	}
	defer l.ImmediateStop()

	ctx := context.Background()
	socketClient, err := tcp.NewClient(ctx, "127.0.0.1", l.Port(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer socketClient.Close()

	msg := "Hello Ballerina"
	if err := socketClient.WriteBytes(ctx, []byte(msg)); err != nil {
		log.Fatal(err)
	}
	receivedData, err := socketClient.ReadBytes(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(receivedData))
	// Output: Hello Ballerina
}
