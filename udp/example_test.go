package udp_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/netkit-go/netkit/udp"
)

// An echo server in three lines, and a client talking to it.
func ExampleListener() {
	l, _ := udp.NewListener(0, &udp.ListenerConfig{LocalHost: "127.0.0.1"}) // 0: any free port
	l.Attach(udp.Echo)
	l.Start()
	defer l.GracefulStop(context.Background())

	ctx := context.Background()
	c, err := udp.NewClient(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	to, _ := udp.ResolveAddr("127.0.0.1", l.Addr().(*net.UDPAddr).Port)
	c.SendDatagram(ctx, udp.Datagram{Addr: to, Data: []byte("Hello Ballerina")})
	d, err := c.ReceiveDatagram(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s from %s\n", d.Data, d.RemoteHost())
	// Output: Hello Ballerina from 127.0.0.1
}

// A service with OnBytes and OnError: the reply goes to the sender; a
// returned error reaches OnError and the listener carries on.
type upper struct{}

func (upper) OnBytes(c udp.Caller, data []byte) ([]byte, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("empty datagram from %s", c.RemoteHost())
	}
	return bytes.ToUpper(data), nil // data is borrowed; the reply is new memory
}

func (upper) OnError(c udp.Caller, err error) { fmt.Println("OnError:", err) }

func ExampleBytesService() {
	l, _ := udp.NewListener(0, &udp.ListenerConfig{LocalHost: "127.0.0.1"})
	if err := l.Attach(upper{}); err != nil {
		log.Fatal(err)
	}
	l.Start()
	defer l.GracefulStop(context.Background())

	ctx := context.Background()
	port := l.Addr().(*net.UDPAddr).Port
	c, _ := udp.NewConnectClient(ctx, "127.0.0.1", port, nil)
	defer c.Close()
	c.WriteBytes(ctx, nil) // an empty datagram: the handler fails
	c.WriteBytes(ctx, []byte("shout"))
	reply, _ := c.ReadBytes(ctx)
	fmt.Println(string(reply))
	// Output:
	// OnError: empty datagram from 127.0.0.1
	// SHOUT
}

// OnDatagram sees the sender and may answer anywhere, by returning a
// Datagram or through the Caller.
func ExampleDatagramFunc() {
	bot := udp.DatagramFunc(func(c udp.Caller, d udp.Datagram) (udp.Datagram, error) {
		greeting := fmt.Sprintf("Hi %s, I'm a bot", d.Data)
		return udp.Datagram{Addr: d.Addr, Data: []byte(greeting)}, nil
	})
	l, _ := udp.NewListener(0, &udp.ListenerConfig{LocalHost: "127.0.0.1"})
	l.Attach(bot)
	l.Start()
	defer l.GracefulStop(context.Background())

	ctx := context.Background()
	c, _ := udp.NewClient(ctx, &udp.ClientConfig{LocalHost: "127.0.0.1"})
	defer c.Close()
	to, _ := udp.ResolveAddr("localhost", l.Addr().(*net.UDPAddr).Port)
	c.SendDatagram(ctx, udp.Datagram{Addr: to, Data: []byte("Ballerina")})
	d, _ := c.ReceiveDatagram(ctx)
	fmt.Println(string(d.Data))
	// Output: Hi Ballerina, I'm a bot
}

// A read that times out returns an error matching os.ErrDeadlineExceeded
// with Ballerina's text; the client stays usable.
func ExampleConnectClient_ReadBytes() {
	silent, _ := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	defer silent.Close()
	ctx := context.Background()
	c, _ := udp.NewConnectClient(ctx, "127.0.0.1", silent.LocalAddr().(*net.UDPAddr).Port,
		&udp.ConnectClientConfig{Timeout: 50 * time.Millisecond})
	defer c.Close()
	_, err := c.ReadBytes(ctx)
	fmt.Println(err)
	// Output: Read timed out
}

// Workers handle datagrams of different senders concurrently, keeping
// each sender's order; Stats tells how many were dropped.
func ExampleListenerConfig_workers() {
	l, _ := udp.NewListener(0, &udp.ListenerConfig{LocalHost: "127.0.0.1", Workers: 4, QueueSize: 512})
	l.Attach(udp.BytesFunc(func(c udp.Caller, data []byte) ([]byte, error) {
		go func(reply []byte) { // long work: answer later through the Caller
			c.SendBytes(context.Background(), reply)
		}(bytes.Clone(data)) // data is borrowed: clone what outlives the call
		return nil, nil
	}))
	l.Start()
	defer l.GracefulStop(context.Background())

	ctx := context.Background()
	c, _ := udp.NewConnectClient(ctx, "127.0.0.1", l.Addr().(*net.UDPAddr).Port, nil)
	defer c.Close()
	c.WriteBytes(ctx, []byte("later"))
	reply, _ := c.ReadBytes(ctx)
	fmt.Println(string(reply), l.Stats().Dropped)
	// Output: later 0
}
