package websocket_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"log"
	"strconv"
	"strings"
	"time"

	"github.com/netkit-go/netkit/websocket"
)

// Order is bound from {"event":"order","item":"...","qty":N}.
type Order struct {
	Item string `json:"item"`
	Qty  int    `json:"qty"`
}

// Receipt is sent back as JSON.
type Receipt struct {
	Event string `json:"event"`
	Total int    `json:"total"`
}

// Shop is a data-bound service with custom dispatch: the "event" field
// picks the method, whose parameter type says how the message decodes and
// whose result is sent back.
type Shop struct{}

// OnOrder gets {"event":"order",...} and answers with a Receipt.
func (Shop) OnOrder(c *websocket.Conn, o Order) (Receipt, error) {
	return Receipt{Event: "receipt", Total: 3 * o.Qty}, nil
}

// OnHeartbeat gets {"event":"heartbeat"} and answers with a string.
func (Shop) OnHeartbeat(c *websocket.Conn, _ struct{}) (string, error) { return "alive", nil }

// OnMessage gets every other message.
func (Shop) OnMessage(c *websocket.Conn, text string) (string, error) {
	return "unknown: " + text, nil
}

// A service whose methods receive decoded messages (data binding), picked
// by a JSON field (ServiceConfig.DispatcherKey), and return their answers.
func ExampleServiceConfig_dispatcherKey() {
	l, err := websocket.NewListener(0, &websocket.ListenerConfig{Host: "127.0.0.1"})
	if err != nil {
		log.Fatal(err)
	}
	if err := l.Attach("/shop", websocket.Static(Shop{}), &websocket.ServiceConfig{DispatcherKey: "event"}); err != nil {
		log.Fatal(err)
	}
	if err := l.Start(); err != nil {
		log.Fatal(err)
	}
	defer l.ImmediateStop()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := websocket.Dial(ctx, "ws://127.0.0.1:"+strconv.Itoa(l.Port())+"/shop", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close(ctx, 1000, "")
	for _, msg := range []string{`{"event":"order","item":"tea","qty":2}`, `{"event":"heartbeat"}`, `hello`} {
		c.WriteTextMessage(ctx, []byte(msg))
		if msg == `{"event":"order","item":"tea","qty":2}` {
			var r Receipt
			if err := c.ReadMessage(ctx, &r); err != nil {
				log.Fatal(err)
			}
			fmt.Printf("%+v\n", r)
			continue
		}
		s, _ := c.ReadTextMessage(ctx)
		fmt.Println(string(s))
	}
	// Output:
	// {Event:receipt Total:6}
	// alive
	// unknown: hello
}

// A listener that accepts only JWTs it can verify, and a client that
// sends self-signed ones; the service sees the token's subject.
func ExampleJWTValidator() {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	l, err := websocket.NewListener(0, &websocket.ListenerConfig{Host: "127.0.0.1"})
	if err != nil {
		log.Fatal(err)
	}
	auth := &websocket.JWTValidator{Issuer: "example", Audience: []string{"ws"}, PublicKey: &key.PublicKey, Scopes: []string{"chat"}}
	greet := &websocket.ServiceFuncs{OnOpen: func(c *websocket.Conn) error {
		p := c.Principal()
		return c.WriteTextMessage(context.Background(), []byte("hello "+p.Name+" ("+strings.Join(p.Scopes, ",")+")"))
	}}
	if err := l.Attach("/", websocket.Static(greet), &websocket.ServiceConfig{Auth: []websocket.ListenerAuth{auth}}); err != nil {
		log.Fatal(err)
	}
	if err := l.Start(); err != nil {
		log.Fatal(err)
	}
	defer l.ImmediateStop()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	url := "ws://127.0.0.1:" + strconv.Itoa(l.Port()) + "/"
	issuer := &websocket.JWTIssuer{Issuer: "example", Subject: "bob", Audience: []string{"ws"},
		Claims: map[string]any{"scope": "chat"}, Key: key}
	c, err := websocket.Dial(ctx, url, &websocket.ClientConfig{Auth: issuer})
	if err != nil {
		log.Fatal(err)
	}
	s, _ := c.ReadTextMessage(ctx)
	fmt.Println(string(s))
	c.Close(ctx, 1000, "")

	_, err = websocket.Dial(ctx, url, nil)
	fmt.Println(err)
	// Output:
	// hello bob (chat)
	// websocket: invalid handshake: the server answered 401 Unauthorized
}
