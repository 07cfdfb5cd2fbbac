package websocket_test

import (
	"encoding/json"
	"errors"
	"iter"
	"strings"
	"testing"

	"github.com/netkit-go/netkit/websocket"
)

// returner returns, for each command text, a value of another kind.
type returner struct{ errs chan error }

func (r *returner) OnMessage(c *websocket.Conn, cmd string) (any, error) {
	switch cmd {
	case "string":
		return "a string", nil
	case "empty":
		return "", nil
	case "bytes":
		return []byte{1, 2, 3}, nil
	case "json":
		return chat{From: "srv", Text: "json"}, nil
	case "number":
		return 42, nil
	case "nil":
		return nil, nil
	case "nil-close":
		return (*websocket.CloseError)(nil), nil // a typed nil: no close, as a returned error
	case "seq":
		return iter.Seq[any](func(yield func(any) bool) {
			for _, v := range []any{"s1", []byte("s2"), chat{Text: "s3"}} {
				if !yield(v) {
					return
				}
			}
		}), nil
	case "chan":
		ch := make(chan string, 3)
		ch <- "c1"
		ch <- "c2"
		ch <- "c3"
		close(ch)
		return (<-chan string)(ch), nil
	case "stream-error":
		return iter.Seq2[string, error](func(yield func(string, error) bool) {
			if yield("e1", nil) {
				yield("", errors.New("boom"))
			}
		}), nil
	case "stream-close":
		return iter.Seq[any](func(yield func(any) bool) {
			_ = yield("last") && yield(&websocket.CloseError{Code: 4001, Reason: "from stream"}) && yield("never")
		}), nil
	case "close":
		return websocket.PolicyViolation, nil
	case "unmarshalable":
		return func() {}, nil
	case "error":
		return "not sent", errors.New("callback failed")
	}
	return nil, nil
}

func (r *returner) OnError(c *websocket.Conn, err error) { r.errs <- err }

// TestReturnValues: each kind of returned value is sent as §5.4 says, a
// stream's elements in order before the next message is dispatched.
func TestReturnValues(t *testing.T) {
	ctx := testCtx(t)
	r := &returner{errs: make(chan error, 4)}
	url := clServe(t, "/r", websocket.Static(r), nil)
	c := clDial(t, url, nil)
	type msg struct {
		typ  websocket.MessageType
		data string
	}
	read := func() msg {
		t.Helper()
		typ, p, err := c.Read(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		return msg{typ, string(p)}
	}
	text := func(s string) msg { return msg{websocket.TextMessage, s} }
	for _, tc := range []struct {
		cmd  string
		want []msg
	}{
		{"string", []msg{text("a string")}},
		{"bytes", []msg{{websocket.BinaryMessage, "\x01\x02\x03"}}},
		{"json", []msg{text(`{"from":"srv","text":"json"}`)}},
		{"number", []msg{text("42")}},
		{"seq", []msg{text("s1"), {websocket.BinaryMessage, "s2"}, text(`{"from":"","text":"s3"}`)}},
		{"chan", []msg{text("c1"), text("c2"), text("c3")}},
	} {
		// The nothing-sending results go first: their absence shows as
		// the next command's answer arriving first.
		for _, quiet := range []string{"nil", "empty", "nil-close"} {
			c.WriteTextMessage(ctx, []byte(quiet))
		}
		c.WriteTextMessage(ctx, []byte(tc.cmd))
		c.WriteTextMessage(ctx, []byte("string")) // dispatched after the whole result
		for i, w := range append(tc.want, text("a string")) {
			if got := read(); got != w {
				t.Fatalf("%s: message %d is %v %q, want %v %q", tc.cmd, i, got.typ, got.data, w.typ, w.data)
			}
		}
	}

	// A failed encoding and a returned error go to OnError; nothing is sent.
	c.WriteTextMessage(ctx, []byte("unmarshalable"))
	var je *json.UnsupportedTypeError
	if err := recv(t, r.errs); !errors.Is(err, websocket.ErrReturnValue) || !errors.As(err, &je) {
		t.Fatalf("unmarshalable: %v", err)
	}
	c.WriteTextMessage(ctx, []byte("error"))
	if err := recv(t, r.errs); err == nil || err.Error() != "callback failed" {
		t.Fatalf("error: %v", err)
	}
	c.WriteTextMessage(ctx, []byte("string"))
	if got := read(); got != text("a string") {
		t.Fatalf("after errors: %q", got.data)
	}

	// A returned *CloseError closes.
	c.WriteTextMessage(ctx, []byte("close"))
	_, _, err := c.Read(ctx, nil)
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 1008 || ce.Reason != websocket.PolicyViolation.Reason {
		t.Fatalf("close: %v", err)
	}

	// A stream error closes with 1011 "streaming failed: <msg>".
	c = clDial(t, url, nil)
	c.WriteTextMessage(ctx, []byte("stream-error"))
	if got := read(); got != text("e1") {
		t.Fatalf("stream-error: %q", got.data)
	}
	_, _, err = c.Read(ctx, nil)
	if !errors.As(err, &ce) || ce.Code != 1011 || ce.Reason != "streaming failed: boom" {
		t.Fatalf("stream error: %v", err)
	}

	// A *CloseError element closes and ends the stream.
	c = clDial(t, url, nil)
	c.WriteTextMessage(ctx, []byte("stream-close"))
	if got := read(); got != text("last") {
		t.Fatalf("stream-close: %q", got.data)
	}
	_, _, err = c.Read(ctx, nil)
	if !errors.As(err, &ce) || ce.Code != 4001 || ce.Reason != "from stream" {
		t.Fatalf("stream close: %v", err)
	}
}

// pingReturner answers pings with its own payload by returning it.
type pingReturner struct{}

func (pingReturner) OnPing(c *websocket.Conn, data []byte) ([]byte, error) {
	return append([]byte("re:"), data...), nil
}

func (pingReturner) OnTextMessage(c *websocket.Conn, text []byte) (string, error) {
	return strings.ToUpper(string(text)), nil
}

// TestPingReturnsPong: bytes returned by OnPing are the pong's payload;
// OnTextMessage may return its answer.
func TestPingReturnsPong(t *testing.T) {
	ctx := testCtx(t)
	pongs := make(chan string, 1)
	c := clDial(t, clServe(t, "/p", websocket.Static(pingReturner{}), nil), &websocket.ClientConfig{
		PingPongHandler: &websocket.ServiceFuncs{OnPong: func(c *websocket.Conn, data []byte) error {
			pongs <- string(data)
			return nil
		}},
	})
	if err := c.Ping(ctx, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	c.WriteTextMessage(ctx, []byte("upper"))
	if got := readText(t, c); got != "UPPER" {
		t.Fatalf("text: %q", got)
	}
	if p := recv(t, pongs); p != "re:hello" {
		t.Fatalf("pong %q", p)
	}
}

// TestTypedHandlerPanics: a panic in a typed callback closes with 1011 as
// in any callback.
func TestTypedHandlerPanics(t *testing.T) {
	ctx := testCtx(t)
	c := clDial(t, clServe(t, "/panic", websocket.Static(&panicker{}), nil), nil)
	c.WriteTextMessage(ctx, []byte(`{}`))
	_, _, err := c.Read(ctx, nil)
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 1011 {
		t.Fatalf("panic: %v", err)
	}
}

type panicker struct{}

func (*panicker) OnMessage(c *websocket.Conn, v map[string]int) error { panic("typed boom") }
