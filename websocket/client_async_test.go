package websocket_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netkit-go/netkit/websocket"
)

// clEvents records an AsyncClient's callbacks.
type clEvents struct {
	mu  sync.Mutex
	evs []string
	ch  chan string
}

func newCLEvents() *clEvents { return &clEvents{ch: make(chan string, 64)} }

func (e *clEvents) add(s string) {
	e.mu.Lock()
	e.evs = append(e.evs, s)
	e.mu.Unlock()
	e.ch <- s
}

func (e *clEvents) next(t *testing.T) string {
	t.Helper()
	select {
	case s := <-e.ch:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no callback within 10 s")
		return ""
	}
}

// TestAsyncClient: the service's callbacks run as on the server side.
func TestAsyncClient(t *testing.T) {
	up := websocket.Static(&websocket.ServiceFuncs{
		OnTextMessage: func(c *websocket.Conn, text []byte) error {
			switch string(text) {
			case "ping me":
				return c.Ping(context.Background(), []byte("srv-ping"))
			case "close me":
				return &websocket.CloseError{Code: 4001, Reason: "asked"}
			}
			return c.WriteTextMessage(context.Background(), text)
		},
		OnBinaryMessage: func(c *websocket.Conn, data []byte) error {
			return c.WriteBinaryMessage(context.Background(), data)
		},
	})
	url := clServe(t, "/async", up, nil)
	ev := newCLEvents()
	svc := &websocket.ServiceFuncs{
		OnOpen:          func(c *websocket.Conn) error { ev.add("open"); return nil },
		OnTextMessage:   func(c *websocket.Conn, text []byte) error { ev.add("text " + string(text)); return nil },
		OnBinaryMessage: func(c *websocket.Conn, data []byte) error { ev.add("binary " + string(data)); return nil },
		OnPing: func(c *websocket.Conn, data []byte) error {
			ev.add("ping " + string(data))
			return c.Pong(context.Background(), data)
		},
		OnPong:  func(c *websocket.Conn, data []byte) error { ev.add("pong " + string(data)); return nil },
		OnClose: func(c *websocket.Conn, code int, reason string) { ev.add("close " + itoa(code) + " " + reason) },
		OnError: func(c *websocket.Conn, err error) { ev.add("error " + err.Error()) },
	}
	ctx := testCtx(t)
	ac, err := websocket.DialAsync(ctx, url, svc, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { <-ac.Done() }()
	if ac.HandshakeResponse().StatusCode != 101 {
		t.Fatal("HandshakeResponse")
	}
	if s := ev.next(t); s != "open" {
		t.Fatalf("first event %q", s)
	}
	if _, _, err := ac.Read(ctx, nil); !errors.Is(err, websocket.ErrCallbackMode) {
		t.Fatalf("Read on an AsyncClient: %v", err)
	}
	ac.WriteTextMessage(ctx, []byte("hello"))
	if s := ev.next(t); s != "text hello" {
		t.Fatal(s)
	}
	ac.WriteBinaryMessage(ctx, []byte("bin"))
	if s := ev.next(t); s != "binary bin" {
		t.Fatal(s)
	}
	ac.Ping(ctx, []byte("cli-ping"))
	if s := ev.next(t); s != "pong cli-ping" {
		t.Fatal(s)
	}
	ac.WriteTextMessage(ctx, []byte("ping me"))
	if s := ev.next(t); s != "ping srv-ping" {
		t.Fatal(s)
	}
	ac.WriteTextMessage(ctx, []byte("close me"))
	if s := ev.next(t); s != "close 4001 asked" {
		t.Fatal(s)
	}
	select {
	case <-ac.Done():
	case <-ctx.Done():
		t.Fatal("loop did not end after the close")
	}
	if ac.IsOpen() {
		t.Fatal("IsOpen after close")
	}
}

// TestAsyncClientCloseAndDrop: a local Close waits for the echo; a dropped
// connection is OnClose(1006).
func TestAsyncClientCloseAndDrop(t *testing.T) {
	ctx := testCtx(t)
	ev := newCLEvents()
	svc := &websocket.ServiceFuncs{
		OnClose: func(c *websocket.Conn, code int, reason string) { ev.add("close " + itoa(code)) },
	}
	ac, err := websocket.DialAsync(ctx, clEchoURL(t), svc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ac.Close(ctx, 1001, "going"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	<-ac.Done()
	if s := ev.next(t); s != "close 1001" {
		t.Fatal(s)
	}

	srv := clNewRawServer(t, func(rc *clRawConn) { clDropHard(rc) })
	ac2, err := websocket.DialAsync(ctx, srv.url, svc, nil)
	if err != nil {
		t.Fatal(err)
	}
	<-ac2.Done()
	if s := ev.next(t); s != "close 1006" {
		t.Fatal(s)
	}

	// A malformed service fails DialAsync.
	type bad struct{ websocket.ServiceFuncs }
	if _, err := websocket.DialAsync(ctx, clEchoURL(t), &clBadService{}, nil); err == nil {
		t.Fatal("a misspelled callback was accepted")
	}
}

type clBadService struct{}

func (*clBadService) OnText(c *websocket.Conn, text []byte) error { return nil }

// TestAsyncClientIdleTimeout: OnIdleTimeout runs when nothing was read or
// written for IdleTimeout.
func TestAsyncClientIdleTimeout(t *testing.T) {
	ctx := testCtx(t)
	ev := newCLEvents()
	svc := &websocket.ServiceFuncs{
		OnIdleTimeout: func(c *websocket.Conn) error { ev.add("idle"); return websocket.NormalClosure },
	}
	ac, err := websocket.DialAsync(ctx, clEchoURL(t), svc, &websocket.ClientConfig{IdleTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if s := ev.next(t); s != "idle" {
		t.Fatal(s)
	}
	if d := time.Since(start); d < 80*time.Millisecond {
		t.Fatalf("idle after %v", d)
	}
	<-ac.Done()
}

// TestNetConn: a Client as a net.Conn byte stream: io.Copy-style traffic,
// deadlines, and EOF after the peer's close.
func TestNetConn(t *testing.T) {
	c := clDial(t, clEchoURL(t), nil)
	ctx := testCtx(t)
	nc := websocket.NetConn(ctx, c.Conn(), websocket.BinaryMessage)
	if nc.RemoteAddr() == nil || nc.LocalAddr() == nil {
		t.Fatal("addresses")
	}
	msg := bytes.Repeat([]byte("0123456789"), 1000)
	if n, err := nc.Write(msg); err != nil || n != len(msg) {
		t.Fatalf("Write %d %v", n, err)
	}
	got := make([]byte, len(msg))
	// Small reads cut messages into pieces.
	for off := 0; off < len(got); {
		n, err := nc.Read(got[off:min(off+777, len(got))])
		if err != nil {
			t.Fatal(err)
		}
		off += n
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("stream differs")
	}
	// A read deadline in the past fails at once; a future one cuts a
	// waiting read; the connection stays usable.
	nc.SetReadDeadline(time.Now().Add(-time.Second))
	var ne net.Error
	if _, err := nc.Read(got); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Read past deadline: %v", err)
	}
	nc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := nc.Read(got); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Read with deadline: %v", err)
	}
	nc.SetReadDeadline(time.Time{})
	if _, err := nc.Write([]byte("again")); err != nil {
		t.Fatalf("write again: %v", err)
	}
	if n, err := io.ReadFull(nc, got[:5]); err != nil || string(got[:n]) != "again" {
		t.Fatalf("read after deadline: %q %v", got[:n], err)
	}
	if err := nc.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := nc.Write([]byte("x")); err == nil {
		t.Fatal("Write after Close")
	}

	// EOF when the server closes normally.
	up := websocket.Static(&websocket.ServiceFuncs{
		OnOpen: func(c *websocket.Conn) error {
			c.WriteTextMessage(context.Background(), []byte("last words"))
			return websocket.NormalClosure
		},
	})
	c2 := clDial(t, clServe(t, "/bye", up, nil), nil)
	nc2 := websocket.NetConn(ctx, c2.Conn(), websocket.TextMessage)
	all, err := io.ReadAll(nc2)
	if err != nil || string(all) != "last words" {
		t.Fatalf("ReadAll %q %v", all, err)
	}
	if err := nc2.Close(); err != nil {
		t.Fatalf("Close after EOF: %v", err)
	}
	_ = strings.Repeat
}
