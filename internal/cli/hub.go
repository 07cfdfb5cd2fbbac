package cli

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/netkit-go/netkit/hub"
	"github.com/netkit-go/netkit/hub/natsbroker"
	"github.com/netkit-go/netkit/websocket"
)

//go:embed hubpage.html
var hubPage string

func init() {
	register(command{name: "hub", summary: "serve a publish/subscribe hub (JSON over WebSocket at --path, a chat page at /), across nodes with --nats", run: hubCmd})
}

// hubSubscribeTimeout bounds a subscribe request (a NATS round trip).
const hubSubscribeTimeout = 10 * time.Second

// Close codes of the hub protocol.
const hubNotJSON = 1007 // the message is not JSON at all

func hubCmd(e *env, args []string) error {
	fs := newFlags(e, "hub", "[--host H] [--port P] [--path /hub] [--nats URL] [--prefix P] [--queue N] [--policy drop-oldest|drop-newest|disconnect]")
	host := fs.String("host", "127.0.0.1", "address to bind (0.0.0.0 or :: for every interface)")
	port := fs.Int("port", 8080, "port of the WebSocket endpoint and the chat page (0: any free port)")
	path := fs.String("path", "/hub", "the WebSocket path")
	natsURL := fs.String("nats", "", "NATS server URL(s), comma-separated, to span nodes (default: a single node, in memory)")
	prefix := fs.String("prefix", natsbroker.DefaultPrefix, "NATS subject prefix of the topics")
	queue := fs.Int("queue", hub.DefaultQueueSize, "messages queued per subscriber")
	policy := fs.String("policy", hub.DropOldest.String(), "when a subscriber's queue is full: drop-oldest, drop-newest or disconnect")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	pol, err := hub.ParsePolicy(*policy)
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return ErrUsage
	}
	if !strings.HasPrefix(*path, "/") || *path == "/" {
		fmt.Fprintln(e.stderr, "netkit hub: --path must start with / and not be / (the page is there)")
		return ErrUsage
	}
	cfg := &hub.Config{QueueSize: *queue, Policy: pol, Logger: e.log}
	if *natsURL != "" {
		b, err := natsbroker.Connect(e.ctx, &natsbroker.Config{URL: *natsURL, Prefix: *prefix,
			Name: fmt.Sprintf("netkit hub %s:%d", *host, *port), Logger: e.log})
		if err != nil {
			return err
		}
		cfg.Broker = b
	}
	h := hub.New(cfg)
	l, err := websocket.NewListener(*port, &websocket.ListenerConfig{Host: *host, Fallback: hubPageHandler(*path), Logger: e.log})
	if err == nil {
		err = l.Attach(*path, websocket.Static(&hubService{h: h}), &websocket.ServiceConfig{Logger: e.log})
	}
	if err == nil {
		err = l.Start()
	}
	if err != nil {
		h.ImmediateStop()
		return err
	}
	broker := "in memory"
	if *natsURL != "" {
		broker = "NATS " + *natsURL
	}
	fmt.Fprintf(e.stderr, "hub listening on ws://%s%s (page at http://%s/, broker %s)\n", l.Addr(), *path, l.Addr(), broker)
	// The hub first, so that what is queued leaves before the connections
	// close.
	return waitAndStop(e, func(ctx context.Context) error {
		return errors.Join(h.GracefulStop(ctx), l.GracefulStop(ctx))
	})
}

// hubPageHandler serves the chat page, which connects to path, at /.
func hubPageHandler(path string) http.Handler {
	page := []byte(strings.ReplaceAll(hubPage, "{{PATH}}", path))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(page)
	})
}

// hubService speaks the hub's JSON protocol on each connection.
type hubService struct{ h *hub.Hub }

type hubRequest struct {
	Op    string          `json:"op"`
	Topic string          `json:"topic"`
	Data  json.RawMessage `json:"data"`
}

type hubReply struct {
	Op    string `json:"op"`
	For   string `json:"for,omitempty"`
	Topic string `json:"topic,omitempty"`
	Error string `json:"error,omitempty"`
}

func (s *hubService) OnTextMessage(c *websocket.Conn, text []byte) error { return s.handle(c, text) }

func (s *hubService) OnBinaryMessage(c *websocket.Conn, data []byte) error { return s.handle(c, data) }

func (s *hubService) handle(c *websocket.Conn, msg []byte) error {
	req, bad, notJSON := parseHubRequest(msg)
	switch {
	case notJSON:
		// Close from a callback sends the close frame and returns.
		return c.Close(context.Background(), hubNotJSON, "not JSON")
	case bad != "":
		return reply(c, hubReply{Op: "error", Error: bad})
	}
	switch req.Op {
	case "subscribe":
		ctx, cancel := context.WithTimeout(c.Context(), hubSubscribeTimeout)
		defer cancel()
		if err := s.h.Subscribe(ctx, c, req.Topic); err != nil {
			return reply(c, hubReply{Op: "error", Error: err.Error()})
		}
		return reply(c, hubReply{Op: "ok", For: "subscribe", Topic: req.Topic})
	case "unsubscribe":
		s.h.Unsubscribe(c, req.Topic)
		return reply(c, hubReply{Op: "ok", For: "unsubscribe", Topic: req.Topic})
	default: // publish
		if err := s.h.Publish(c.Context(), req.Topic, websocket.TextMessage, delivery(req.Topic, req.Data)); err != nil {
			return reply(c, hubReply{Op: "error", Error: err.Error()})
		}
		return nil
	}
}

// parseHubRequest checks a request: bad is the error to send back, and
// notJSON says the message is not JSON at all (the connection closes).
func parseHubRequest(msg []byte) (req hubRequest, bad string, notJSON bool) {
	if !json.Valid(msg) {
		return req, "", true
	}
	if err := json.Unmarshal(msg, &req); err != nil {
		return req, "a request is a JSON object: " + err.Error(), false
	}
	switch req.Op {
	case "subscribe", "unsubscribe":
		if err := hub.ValidPattern(req.Topic); err != nil {
			return req, err.Error(), false
		}
	case "publish":
		if len(req.Data) == 0 {
			return req, "publish needs data", false
		}
		if err := hub.ValidTopic(req.Topic); err != nil {
			return req, err.Error(), false
		}
	case "":
		return req, `a request needs "op": subscribe, unsubscribe or publish`, false
	default:
		return req, fmt.Sprintf("unknown op %q (subscribe, unsubscribe or publish)", req.Op), false
	}
	return req, "", false
}

// delivery is the message subscribers get: {"topic":T,"data":D}, with D as
// published. It is also the NATS payload, so every node sends it as is.
func delivery(topic string, data json.RawMessage) []byte {
	t, _ := json.Marshal(topic)
	var b bytes.Buffer
	b.Grow(len(t) + len(data) + 20)
	b.WriteString(`{"topic":`)
	b.Write(t)
	b.WriteString(`,"data":`)
	b.Write(bytes.TrimSpace(data))
	b.WriteByte('}')
	return b.Bytes()
}

func reply(c *websocket.Conn, r hubReply) error {
	return c.WriteMessage(context.Background(), r)
}
