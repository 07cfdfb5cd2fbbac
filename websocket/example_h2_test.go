package websocket_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/netkit-go/netkit/websocket"
)

// ExampleClientConfig_http2 dials a wss URL over HTTP/2 (RFC 8441): two
// clients of one origin are streams of one pooled TLS connection.
func ExampleClientConfig_http2() {
	// A server that takes the extended CONNECT: a Handler on an
	// http.Server given to ConfigureHTTP2 (a TLS Listener does it itself).
	h := websocket.NewHandler(websocket.Static(websocket.Echo), nil)
	srv := httptest.NewUnstartedServer(h)
	if err := websocket.ConfigureHTTP2(srv.Config); err != nil {
		log.Fatal(err)
	}
	srv.TLS = srv.Config.TLSConfig
	srv.StartTLS()
	defer srv.Close()
	defer h.ImmediateStop()

	ctx := context.Background()
	pool := &websocket.HTTP2Pool{}
	cfg := &websocket.ClientConfig{
		HTTP2:     true,
		HTTP2Pool: pool,
		TLSConfig: srv.Client().Transport.(*http.Transport).TLSClientConfig, // trusts srv
	}
	url := "wss://" + srv.Listener.Addr().String() + "/echo"
	a, err := websocket.Dial(ctx, url, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close(ctx, 1000, "")
	b, err := websocket.Dial(ctx, url, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close(ctx, 1000, "")
	if err := b.WriteTextMessage(ctx, []byte("hello over h2")); err != nil {
		log.Fatal(err)
	}
	reply, err := b.ReadTextMessage(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(reply), a.HTTPVersion(), b.HTTPVersion(), pool.Conns())
	// Output: hello over h2 2 2 1
}
