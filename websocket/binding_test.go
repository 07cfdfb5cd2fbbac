package websocket_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/netkit-go/netkit/websocket"
)

// bindService[T] reports each value OnMessage bound.
type bindService[T any] struct{ got chan T }

func (s *bindService[T]) OnMessage(c *websocket.Conn, v T) error {
	if b, ok := any(v).([]byte); ok { // borrowed until OnMessage returns
		v = any(bytes.Clone(b)).(T)
	}
	s.got <- v
	return nil
}

// bindErrService[T] is a bindService with OnError.
type bindErrService[T any] struct {
	bindService[T]
	errs chan error
}

func (s *bindErrService[T]) OnError(c *websocket.Conn, err error) { s.errs <- err }

type chat struct {
	From string `json:"from"`
	Text string `json:"text"`
}

// bindCase runs one binding: msg sent as typ must bind to want.
func bindCase[T any](t *testing.T, typ websocket.MessageType, msg string, want T) {
	t.Helper()
	s := &bindService[T]{got: make(chan T, 1)}
	url := clServe(t, "/bind", websocket.Static(s), nil)
	c := clDial(t, url, nil)
	if err := c.Write(testCtx(t), typ, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, s.got); !reflect.DeepEqual(got, want) {
		t.Errorf("%s %q into %T: got %#v, want %#v", typ, msg, want, got, want)
	}
}

// TestOnMessageBinding: the binding matrix of OnMessage, for text and
// binary messages.
func TestOnMessageBinding(t *testing.T) {
	for _, typ := range []websocket.MessageType{websocket.TextMessage, websocket.BinaryMessage} {
		bindCase(t, typ, `hello "there"`, `hello "there"`)
		bindCase(t, typ, `{"a":1}`, []byte(`{"a":1}`))
		bindCase(t, typ, ` {"a": [1, 2]}`, json.RawMessage(`{"a": [1, 2]}`))
		bindCase(t, typ, `{"from":"ann","text":"say \"hi\""}`, chat{From: "ann", Text: `say "hi"`})
		bindCase(t, typ, `{"from":"bob"}`, &chat{From: "bob"})
		bindCase(t, typ, `{"k":"v"}`, map[string]string{"k": "v"})
		bindCase(t, typ, `[1,2,3]`, []int{1, 2, 3})
		bindCase(t, typ, `2.5`, 2.5)
		bindCase(t, typ, `42`, 42)
		bindCase(t, typ, `true`, true)
		bindCase(t, typ, `{"n":1}`, any(map[string]any{"n": 1.0}))
	}
}

// TestOnMessageExclusive: OnMessage beside OnTextMessage or
// OnBinaryMessage is refused by Attach, CheckService and DialAsync, not at
// the first message.
func TestOnMessageExclusive(t *testing.T) {
	bad := &withText{}
	if err := websocket.CheckService(bad); err == nil || !strings.Contains(err.Error(), "OnMessage cannot coexist") {
		t.Fatalf("CheckService: %v", err)
	}
	l, err := websocket.NewListener(0, &websocket.ListenerConfig{Host: "127.0.0.1", Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Attach("/x", websocket.Static(bad), nil); err == nil || !strings.Contains(err.Error(), "OnMessage cannot coexist") {
		t.Fatalf("Attach: %v", err)
	}
	if err := l.Attach("/y", websocket.Static(&withBinary{}), nil); err == nil {
		t.Fatal("Attach with OnBinaryMessage: no error")
	}
	url := clServe(t, "/echo", websocket.Static(websocket.Echo), nil)
	if _, err := websocket.DialAsync(testCtx(t), url, bad, nil); err == nil {
		t.Fatal("DialAsync: no error")
	}
	if err := websocket.CheckService(&bindService[string]{}); err != nil {
		t.Fatalf("OnMessage alone: %v", err)
	}
}

type withText struct{ bindService[string] }

func (*withText) OnTextMessage(c *websocket.Conn, text []byte) error { return nil }

type withBinary struct{ bindService[string] }

func (*withBinary) OnBinaryMessage(c *websocket.Conn, data []byte) error { return nil }

// TestBindingFailure: a message that does not bind closes with 1003 and
// Ballerina's reason when there is no OnError; with OnError it gets a
// *PayloadBindingError and the connection goes on.
func TestBindingFailure(t *testing.T) {
	ctx := testCtx(t)
	for _, typ := range []websocket.MessageType{websocket.TextMessage, websocket.BinaryMessage} {
		s := &bindService[chat]{got: make(chan chat, 1)}
		c := clDial(t, clServe(t, "/b", websocket.Static(s), nil), nil)
		c.Write(ctx, typ, []byte(`not json`))
		_, _, err := c.Read(ctx, nil)
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != 1003 || !strings.HasPrefix(ce.Reason, "data binding failed: invalid character") {
			t.Fatalf("%s: read %v, want close 1003 data binding failed", typ, err)
		}

		es := &bindErrService[chat]{bindService: bindService[chat]{got: make(chan chat, 1)}, errs: make(chan error, 1)}
		c = clDial(t, clServe(t, "/e", websocket.Static(es), nil), nil)
		c.Write(ctx, typ, []byte(`[1]`))
		err = recv(t, es.errs)
		var be *websocket.PayloadBindingError
		if !errors.As(err, &be) || !strings.HasPrefix(err.Error(), "data binding failed: ") {
			t.Fatalf("%s: OnError got %T %v", typ, err, err)
		}
		c.Write(ctx, typ, []byte(`{"text":"still open"}`))
		if got := recv(t, es.got); got.Text != "still open" {
			t.Fatalf("after the error: %+v", got)
		}
	}

	// A long message is cut to 80 bytes and "...".
	s := &bindService[longRefusal]{got: make(chan longRefusal, 1)}
	c := clDial(t, clServe(t, "/long", websocket.Static(s), nil), nil)
	c.WriteTextMessage(ctx, []byte(`1`))
	_, _, err := c.Read(ctx, nil)
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 1003 || !strings.HasSuffix(ce.Reason, "...") || ce.Reason != "data binding failed: x"+strings.Repeat("é", 39)+"..." {
		t.Fatalf("long: %v (%d bytes)", err, len(ce.Reason))
	}
}

// TestClientReadMessage: the client binds as the server does, and a
// binding failure leaves the connection usable.
func TestClientReadMessage(t *testing.T) {
	up := websocket.Static(&websocket.ServiceFuncs{
		OnTextMessage: func(c *websocket.Conn, text []byte) error {
			return c.WriteTextMessage(context.Background(), text)
		},
		OnBinaryMessage: func(c *websocket.Conn, data []byte) error {
			return c.WriteBinaryMessage(context.Background(), data)
		},
	})
	c := clDial(t, clServe(t, "/rm", up, nil), nil)
	ctx := testCtx(t)
	c.WriteTextMessage(ctx, []byte(`{"from":"ann","text":"hi"}`))
	var m chat
	if err := c.ReadMessage(ctx, &m); err != nil || m != (chat{"ann", "hi"}) {
		t.Fatalf("%+v %v", m, err)
	}
	c.WriteBinaryMessage(ctx, []byte(`{"from":"bin"}`))
	var p *chat
	if err := c.ReadMessage(ctx, &p); err != nil || p.From != "bin" {
		t.Fatalf("%+v %v", p, err)
	}
	c.WriteTextMessage(ctx, []byte(`plain`))
	var str string
	if err := c.ReadMessage(ctx, &str); err != nil || str != "plain" {
		t.Fatalf("%q %v", str, err)
	}
	c.WriteTextMessage(ctx, []byte(`oops`))
	var n int
	err := c.ReadMessage(ctx, &n)
	var be *websocket.PayloadBindingError
	if !errors.As(err, &be) || !strings.HasPrefix(err.Error(), "data binding failed: ") {
		t.Fatalf("bad json: %v", err)
	}
	c.WriteTextMessage(ctx, []byte(`7`))
	if err := c.ReadMessage(ctx, &n); err != nil || n != 7 {
		t.Fatalf("after the failure: %d %v", n, err)
	}
	if err := c.ReadMessage(ctx, nil); err == nil {
		t.Fatal("ReadMessage(nil) succeeded")
	}
	if err := c.ReadMessage(ctx, n); err == nil {
		t.Fatal("ReadMessage(non-pointer) succeeded")
	}
}

// TestAsyncClientOnMessage: an AsyncClient's Service binds and returns as
// a server's.
func TestAsyncClientOnMessage(t *testing.T) {
	texts := make(chan string, 1)
	up := websocket.Static(&websocket.ServiceFuncs{
		OnOpen: func(c *websocket.Conn) error {
			return c.WriteTextMessage(context.Background(), []byte(`{"from":"srv","text":"welcome"}`))
		},
		OnTextMessage: func(c *websocket.Conn, text []byte) error {
			texts <- string(text)
			return nil
		},
	})
	s := &replier{got: make(chan chat, 1)}
	ac, err := websocket.DialAsync(testCtx(t), clServe(t, "/async", up, nil), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m := recv(t, s.got); m.Text != "welcome" {
		t.Fatalf("bound %+v", m)
	}
	if r := recv(t, texts); r != `{"from":"client","text":"thanks"}` {
		t.Fatalf("returned %q", r)
	}
	ac.Close(testCtx(t), 1000, "")
	<-ac.Done()
}

// replier answers each chat it binds.
type replier struct{ got chan chat }

func (r *replier) OnMessage(c *websocket.Conn, m chat) (chat, error) {
	r.got <- m
	return chat{From: "client", Text: "thanks"}, nil
}

// longRefusal refuses every JSON value with a 121-byte message.
type longRefusal struct{}

func (*longRefusal) UnmarshalJSON([]byte) error { return errors.New("x" + strings.Repeat("é", 60)) }
