package websocket_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/netkit-go/netkit/websocket"
)

type subscribe struct {
	Event string `json:"event"`
	Topic string `json:"topic"`
}

type heartbeat struct {
	Event string `json:"event"`
	Seq   int    `json:"seq"`
}

// dispatchService has custom methods, OnTextMessage and OnError.
type dispatchService struct {
	errs chan error
}

func (s *dispatchService) OnSubscribe(c *websocket.Conn, m subscribe) (string, error) {
	return "subscribed " + m.Topic, nil
}

func (s *dispatchService) OnUnSubscribe(c *websocket.Conn, m subscribe) (string, error) {
	return "unsubscribed " + m.Topic, nil
}

func (s *dispatchService) OnHeartbeat(c *websocket.Conn, m heartbeat) (heartbeat, error) {
	return heartbeat{Event: "heartbeat-ack", Seq: m.Seq + 1}, nil
}

// OnHeartbeatError gets OnHeartbeat's binding errors (not OnError).
func (s *dispatchService) OnHeartbeatError(c *websocket.Conn, err error) {
	c.WriteTextMessage(context.Background(), []byte("heartbeat error: "+err.Error()))
}

func (s *dispatchService) OnTextMessage(c *websocket.Conn, text []byte) error {
	return c.WriteTextMessage(context.Background(), append([]byte("text: "), text...))
}

func (s *dispatchService) OnError(c *websocket.Conn, err error) { s.errs <- err }

// messageFallback has a custom method and OnMessage.
type messageFallback struct{}

func (messageFallback) OnPublish(c *websocket.Conn, m map[string]any) (string, error) {
	return fmt.Sprint("published ", m["body"]), nil
}

func (messageFallback) OnMessage(c *websocket.Conn, m map[string]any) (string, error) {
	return fmt.Sprint("message ", m["event"]), nil
}

// onlyCustom has a custom method, a mapped one and nothing else.
type onlyCustom struct{}

func (onlyCustom) OnPublish(c *websocket.Conn, m map[string]any) (string, error) {
	return "published", nil
}

func (onlyCustom) OnSubscribeMessage(c *websocket.Conn, m subscribe) (string, error) {
	return "mapped " + m.Topic, nil
}

// OnSubscribeMessageError gets the mapped method's binding errors.
func (onlyCustom) OnSubscribeMessageError(c *websocket.Conn, err error) {
	c.WriteTextMessage(context.Background(), []byte("mapped error"))
}

func (onlyCustom) OnPingMessage(c *websocket.Conn, m map[string]any) (string, error) {
	return "mapped ping", nil
}

func readText(t *testing.T, c *websocket.Client) string {
	t.Helper()
	s, err := c.ReadTextMessage(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	return string(s)
}

// TestCustomDispatch: a text message goes to On+camel(value), then
// OnTextMessage, then OnMessage, else it is dropped; explicit mappings
// win; binding errors go to the method's own error hook.
func TestCustomDispatch(t *testing.T) {
	ctx := testCtx(t)
	s := &dispatchService{errs: make(chan error, 1)}
	c := clDial(t, clServe(t, "/d", websocket.Static(s), &websocket.ServiceConfig{DispatcherKey: "event"}), nil)
	for _, tc := range []struct{ in, want string }{
		{`{"event":"subscribe","topic":"news"}`, "subscribed news"},
		{`{"event":"un subscribe","topic":"news"}`, "unsubscribed news"},
		{`{"event":"heartbeat","seq":41}`, `{"event":"heartbeat-ack","seq":42}`},
		{`{"event":"heartbeat","seq":"x"}`, "heartbeat error: data binding failed: json: cannot unmarshal string into Go struct field heartbeat.seq of type int"},
		{`{"event":"unknown"}`, `text: {"event":"unknown"}`},
		{`{"event":"ping"}`, `text: {"event":"ping"}`}, // OnPing is the ping callback, not a custom method
		{`{"event":1}`, `text: {"event":1}`},
		{`{"topic":"none"}`, `text: {"topic":"none"}`},
		{`not json`, `text: not json`},
	} {
		c.WriteTextMessage(ctx, []byte(tc.in))
		if got := readText(t, c); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.in, got, tc.want)
		}
	}
	select {
	case err := <-s.errs:
		t.Fatalf("OnError got %v", err)
	default:
	}

	// Binary messages never go to custom methods.
	c.WriteBinaryMessage(ctx, []byte(`{"event":"subscribe"}`))
	c.WriteTextMessage(ctx, []byte(`{"event":"subscribe","topic":"b"}`))
	if got := readText(t, c); got != "subscribed b" {
		t.Errorf("after binary: %q", got)
	}

	// OnMessage is the fallback after custom methods.
	c = clDial(t, clServe(t, "/m", websocket.Static(messageFallback{}), &websocket.ServiceConfig{DispatcherKey: "event"}), nil)
	c.WriteTextMessage(ctx, []byte(`{"event":"publish","body":"b1"}`))
	c.WriteTextMessage(ctx, []byte(`{"event":"other"}`))
	if got := readText(t, c) + "|" + readText(t, c); got != "published b1|message other" {
		t.Errorf("OnMessage fallback: %q", got)
	}

	// Without a fallback the message is dropped; a mapping overrides the name.
	c = clDial(t, clServe(t, "/o", websocket.Static(onlyCustom{}), &websocket.ServiceConfig{
		DispatcherKey: "type", DispatcherValues: map[string]string{"subscribe": "OnSubscribeMessage", "ping": "OnPingMessage"},
	}), nil)
	c.WriteTextMessage(ctx, []byte(`{"type":"dropped"}`))
	c.WriteTextMessage(ctx, []byte(`{"type":"subscribe","topic":"t"}`))
	c.WriteTextMessage(ctx, []byte(`{"type":"publish"}`))
	c.WriteTextMessage(ctx, []byte(`{"type":"ping"}`))
	c.WriteTextMessage(ctx, []byte(`{"type":"subscribe","topic":5}`))
	if got := readText(t, c) + "|" + readText(t, c) + "|" + readText(t, c) + "|" + readText(t, c); got != "mapped t|published|mapped ping|mapped error" {
		t.Errorf("mapped: %q", got)
	}
}

// TestCustomDispatchChecks: custom methods need DispatcherKey, mappings
// must name a method, an On<X>Error needs its On<X>.
func TestCustomDispatchChecks(t *testing.T) {
	l, err := websocket.NewListener(0, &websocket.ListenerConfig{Host: "127.0.0.1", Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Attach("/a", websocket.Static(onlyCustom{}), nil); err == nil || !strings.Contains(err.Error(), "DispatcherKey") {
		t.Errorf("no DispatcherKey: %v", err)
	}
	err = l.Attach("/b", websocket.Static(onlyCustom{}), &websocket.ServiceConfig{DispatcherKey: "t", DispatcherValues: map[string]string{"x": "OnMissing"}})
	if err == nil || !strings.Contains(err.Error(), "OnMissing") {
		t.Errorf("bad mapping: %v", err)
	}
	if err := l.Attach("/c", websocket.Static(onlyCustom{}), &websocket.ServiceConfig{DispatcherKey: "t"}); err != nil {
		t.Errorf("valid: %v", err)
	}
	if err := l.Attach("/e", websocket.Static(errorNamed{}), &websocket.ServiceConfig{DispatcherKey: "t"}); err != nil {
		t.Errorf("a custom method whose name ends in Error: %v", err)
	}
	if err := websocket.CheckService(&orphanErrorHook{}); err == nil || !strings.Contains(err.Error(), "OnPublishError") {
		t.Errorf("orphan error hook: %v", err)
	}
	if err := websocket.CheckService(&badResults{}); err == nil || !strings.Contains(err.Error(), "OnMessage") {
		t.Errorf("bad results: %v", err)
	}
}

// errorNamed's custom method is named like an error hook but binds a map
// (the dispatch value "payment error").
type errorNamed struct{}

func (errorNamed) OnPaymentError(c *websocket.Conn, m map[string]any) (string, error) {
	return "payment error event", nil
}

type orphanErrorHook struct{}

func (*orphanErrorHook) OnPublishError(c *websocket.Conn, err error) {}

type badResults struct{}

func (*badResults) OnMessage(c *websocket.Conn, v string) (string, string) { return "", "" }

func TestDispatchMethodName(t *testing.T) {
	for in, want := range map[string]string{
		"subscribe": "OnSubscribe", "un subscribe": "OnUnSubscribe", "heartbeat": "OnHeartbeat",
		"ping_pong": "OnPingPong", "a-b.c": "OnABC", "subscribeMessage": "OnSubscribeMessage", "": "On", "2fa": "On2fa",
	} {
		if got := websocket.DispatchMethodName(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
