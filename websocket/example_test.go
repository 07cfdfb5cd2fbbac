package websocket_test

import (
	"context"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/netkit-go/netkit/websocket"
)

// A listener with the echo service at /ws and a page at / (what
// `netkit serve` does).
func ExampleListener() {
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<script>new WebSocket('ws://' + location.host + '/ws')</script>"))
	})
	l, err := websocket.NewListener(21003, &websocket.ListenerConfig{Fallback: page})
	if err != nil {
		log.Fatal(err)
	}
	if err := l.Attach("/ws", websocket.Static(websocket.Echo), nil); err != nil {
		log.Fatal(err)
	}
	if err := l.Start(); err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l.GracefulStop(ctx)
}

// NewHandler mounts a WebSocket service on any mux.
func ExampleNewHandler() {
	chat := &websocket.ServiceFuncs{
		OnTextMessage: func(c *websocket.Conn, text []byte) error {
			if strings.TrimSpace(string(text)) == "bye" {
				return websocket.NormalClosure
			}
			return c.WriteTextMessage(context.Background(), text)
		},
	}
	h := websocket.NewHandler(websocket.Static(chat), &websocket.ServiceConfig{IdleTimeout: time.Minute})
	mux := http.NewServeMux()
	mux.Handle("/ws", h)
	_ = &http.Server{Addr: ":8080", Handler: mux}
	// On shutdown: srv.Shutdown(ctx); h.GracefulStop(ctx)
}

// An upgrade service decides each request: here a token check and a
// custom header.
func ExampleUpgradeFunc() {
	up := websocket.UpgradeFunc(func(r *http.Request, h http.Header) (websocket.Service, error) {
		if r.Header.Get("Authorization") != "Bearer secret" {
			return nil, &websocket.AuthnError{Message: "missing token"} // 401
		}
		h.Set("X-Session", "1")
		return websocket.Echo, nil
	})
	_ = up
}

// Accept gives a pull-style connection read on the handler's goroutine.
func ExampleAccept() {
	http.HandleFunc("/pull", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return // Accept answered the request
		}
		ctx := context.Background()
		buf := make([]byte, 0, 4096)
		for {
			typ, msg, err := c.Read(ctx, buf[:0])
			if err != nil {
				return // *websocket.CloseError when the peer closed
			}
			if err := c.Write(ctx, typ, msg); err != nil {
				return
			}
			buf = msg
		}
	})
}
