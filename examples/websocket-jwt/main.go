// Command websocket-jwt is a JWT-protected WebSocket listener and a client
// that authenticates with self-signed JWTs (Ballerina's
// JwtValidatorConfig on the listener, JwtIssuerConfig on the client).
//
//	go run ./examples/websocket-jwt
//
// It makes an ECDSA key pair (a real deployment reads the public key from
// a PEM file with JWTValidator.CertFile, or uses a JWKS URL), starts the
// listener, and dials it twice: with a token carrying the "chat" scope
// (accepted; the service greets the token's subject), and without one
// (refused with 401).
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/netkit-go/netkit/websocket"
)

// greeter greets each authenticated connection by the JWT's subject.
type greeter struct{}

func (greeter) OnOpen(c *websocket.Conn) error {
	p := c.Principal()
	msg := "hello " + p.Name + ", your scopes: " + strings.Join(p.Scopes, " ")
	return c.WriteTextMessage(context.Background(), []byte(msg))
}

// listen starts the listener on a free loopback port, accepting JWTs
// signed by key, issued by "netkit-example" for audience "chat-service",
// with the scope "chat".
func listen(key *ecdsa.PublicKey) (*websocket.Listener, error) {
	l, err := websocket.NewListener(0, &websocket.ListenerConfig{Host: "127.0.0.1"})
	if err != nil {
		return nil, err
	}
	auth := &websocket.JWTValidator{
		Issuer:    "netkit-example",
		Audience:  []string{"chat-service"},
		ClockSkew: 30 * time.Second,
		PublicKey: key,
		Scopes:    []string{"chat"},
	}
	if err := l.Attach("/chat", websocket.Static(greeter{}), &websocket.ServiceConfig{Auth: []websocket.ListenerAuth{auth}}); err != nil {
		return nil, err
	}
	return l, l.Start()
}

// run dials url with and without a token and prints the outcome.
func run(ctx context.Context, url string, key *ecdsa.PrivateKey, out io.Writer) error {
	issuer := &websocket.JWTIssuer{
		Issuer:   "netkit-example",
		Subject:  "alice",
		Audience: []string{"chat-service"},
		Claims:   map[string]any{"scope": "chat read"},
		Expiry:   time.Minute,
		Key:      key,
	}
	c, err := websocket.Dial(ctx, url, &websocket.ClientConfig{Auth: issuer})
	if err != nil {
		return err
	}
	greeting, err := c.ReadTextMessage(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "with a token:", string(greeting))
	if err := c.Close(ctx, 1000, ""); err != nil {
		return err
	}

	_, err = websocket.Dial(ctx, url, nil)
	var he *websocket.InvalidHandshakeError
	if !errors.As(err, &he) {
		return fmt.Errorf("dial without a token: %v", err)
	}
	fmt.Fprintln(out, "without a token:", he.Status)
	return nil
}

func main() {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	l, err := listen(&key.PublicKey)
	if err != nil {
		log.Fatal(err)
	}
	defer l.ImmediateStop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := run(ctx, "ws://127.0.0.1:"+strconv.Itoa(l.Port())+"/chat", key, os.Stdout); err != nil {
		log.Fatal(err)
	}
}
