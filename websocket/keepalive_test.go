package websocket_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/netkit-go/netkit/websocket"
)

// pingCounter answers (or, when mute, ignores) pings and, after the
// third, sends "three pings".
func pingCounter(mute bool, closes chan int) websocket.UpgradeService {
	return websocket.UpgradeFunc(func(*http.Request, http.Header) (websocket.Service, error) {
		n := 0
		return &websocket.ServiceFuncs{
			OnPing: func(c *websocket.Conn, data []byte) error {
				n++
				if mute {
					return nil
				}
				if err := c.Pong(context.Background(), data); err != nil {
					return err
				}
				if n == 3 {
					return c.WriteTextMessage(context.Background(), []byte("three pings"))
				}
				return nil
			},
			OnClose: func(c *websocket.Conn, code int, reason string) { closes <- code },
		}, nil
	})
}

// TestClientKeepalive: a Client waiting in Read pings every PingInterval
// and survives while pongs come; without pongs Read fails with
// ErrPongTimeout and the connection ends.
func TestClientKeepalive(t *testing.T) {
	ctx := testCtx(t)
	closes := make(chan int, 2)
	c := clDial(t, clServe(t, "/ka", pingCounter(false, closes), nil), &websocket.ClientConfig{PingInterval: 20 * time.Millisecond})
	if s, err := c.ReadTextMessage(ctx); err != nil || string(s) != "three pings" {
		t.Fatalf("%q %v", s, err)
	}

	c = clDial(t, clServe(t, "/mute", pingCounter(true, closes), nil), &websocket.ClientConfig{PingInterval: 20 * time.Millisecond, PongTimeout: 30 * time.Millisecond})
	_, _, err := c.Read(ctx, nil)
	if !errors.Is(err, websocket.ErrPongTimeout) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("mute server: %v", err)
	}
	if code := recv(t, closes); code != 1006 {
		t.Fatalf("server saw close %d", code)
	}
	if _, _, err := c.Read(ctx, nil); err == nil {
		t.Fatal("read after the pong timeout succeeded")
	}

	// With a ReadTimeout beyond the keepalive's: still ErrPongTimeout.
	c = clDial(t, clServe(t, "/mute2", pingCounter(true, closes), nil), &websocket.ClientConfig{
		PingInterval: 20 * time.Millisecond, PongTimeout: 30 * time.Millisecond, ReadTimeout: time.Minute})
	if _, _, err := c.Read(ctx, nil); !errors.Is(err, websocket.ErrPongTimeout) {
		t.Fatalf("with ReadTimeout: %v", err)
	}
	recv(t, closes)
}

// TestAsyncClientKeepalive: an AsyncClient pings from its loop; a server
// that does not answer ends it with ErrPongTimeout to OnError.
func TestAsyncClientKeepalive(t *testing.T) {
	closes := make(chan int, 2)
	texts := make(chan string, 1)
	errs := make(chan error, 1)
	svc := &websocket.ServiceFuncs{
		OnTextMessage: func(c *websocket.Conn, text []byte) error { texts <- string(text); return nil },
		OnError:       func(c *websocket.Conn, err error) { errs <- err },
	}
	ac, err := websocket.DialAsync(testCtx(t), clServe(t, "/ka", pingCounter(false, closes), nil), svc, &websocket.ClientConfig{PingInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if s := recv(t, texts); string(s) != "three pings" {
		t.Fatal(s)
	}
	ac.Close(testCtx(t), 1000, "")
	<-ac.Done()

	ac, err = websocket.DialAsync(testCtx(t), clServe(t, "/mute", pingCounter(true, closes), nil), svc, &websocket.ClientConfig{PingInterval: 20 * time.Millisecond, PongTimeout: 30 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := recv(t, errs); !errors.Is(err, websocket.ErrPongTimeout) {
		t.Fatalf("OnError %v", err)
	}
	<-ac.Done()
}
