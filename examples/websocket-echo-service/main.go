// Command websocket-echo-service is the Ballerina websocket module's
// server sample (seed 004): an upgrade service at /ws on port 21003 whose
// get resource returns a WsService, and the WsService's onTextMessage
// writes the text back.
//
//	go run ./examples/websocket-echo-service -port 21003
package main

import (
	"context"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"

	"github.com/netkit-go/netkit/websocket"
)

// WsService is the sample's websocket:Service.
type WsService struct{}

// OnTextMessage writes the text back (caller->writeTextMessage(data)).
func (WsService) OnTextMessage(c *websocket.Conn, text []byte) error {
	return c.WriteTextMessage(c.Context(), text)
}

// upgrade is the upgrade service's get resource: every request gets a new
// WsService.
func upgrade(r *http.Request, respHeader http.Header) (websocket.Service, error) {
	return WsService{}, nil
}

// run serves until ctx ends; ready receives the bound address.
func run(ctx context.Context, host string, port int, ready chan<- net.Addr) error {
	l, err := websocket.NewListener(port, &websocket.ListenerConfig{Host: host})
	if err != nil {
		return err
	}
	if err := l.Attach("/ws", websocket.UpgradeFunc(upgrade), nil); err != nil {
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
	port := flag.Int("port", 21003, "port to listen on")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *host, *port, nil); err != nil {
		log.Fatal(err)
	}
}
