package cli

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/netkit-go/netkit/hub"
	"github.com/netkit-go/netkit/hub/natsbroker"
	"github.com/netkit-go/netkit/websocket"
)

//go:embed hubpage.html
var hubPage string

// hubSubscribeTimeout bounds a subscribe request (a NATS round trip).
const hubSubscribeTimeout = 10 * time.Second

// Close codes of the hub protocol.
const hubNotJSON = 1007 // the message is not JSON at all

func hubCmd(e *env, args []string) error {
	f := newFlags(e, "hub", "[flags]")
	sf := addServerFlags(f)
	port := f.Int("port", 8080, "port of the WebSocket endpoint and the chat page (0: any free port)")
	path := f.String("path", "/hub", "the WebSocket path")
	natsURL := f.String("nats", "", "NATS server URL(s), comma-separated, to span nodes (default: a single node, in memory)")
	prefix := f.String("prefix", natsbroker.DefaultPrefix, "NATS subject prefix of the topics")
	queue := f.Int("queue", hub.DefaultQueueSize, "messages queued per subscriber")
	policy := f.String("policy", hub.DropOldest.String(), "when a subscriber's queue is full: drop-oldest, drop-newest or disconnect")
	if _, err := f.parse(args); err != nil {
		return err
	}
	if _, err := parsePort(f, strconv.Itoa(*port)); err != nil {
		return err
	}
	pol, err := hub.ParsePolicy(*policy)
	if err != nil {
		return f.fail("--policy: %v", err)
	}
	if !strings.HasPrefix(*path, "/") || *path == "/" {
		return f.fail("--path must start with / and not be / (the page is there)")
	}
	if *queue < 1 {
		return f.fail("--queue must be at least 1, not %d", *queue)
	}
	stopMetrics, err := sf.setup(f)
	if err != nil {
		return err
	}
	defer stopMetrics()
	cfg := &hub.Config{QueueSize: *queue, Policy: pol, Logger: e.log, MeterProvider: meterOf(e)}
	broker := "memory"
	if *natsURL != "" {
		b, err := natsbroker.Connect(e.ctx, &natsbroker.Config{URL: *natsURL, Prefix: *prefix,
			Name: fmt.Sprintf("netkit hub %s:%d", *sf.host, *port), Logger: e.log, MeterProvider: meterOf(e)})
		if err != nil {
			return err
		}
		cfg.Broker = b
		broker = "nats"
	}
	h := hub.New(cfg)
	l, err := startWS(e, *sf.host, *port, *path, hubPage, websocket.Static(&hubService{h: h, wsLog: wsLog{e.log, *path}}), nil)
	if err != nil {
		h.ImmediateStop()
		return err
	}
	attrs := []any{"broker", broker, "policy", pol.String(), "queue", *queue}
	if cfg.Broker != nil {
		attrs = append(attrs, "nats", cfg.Broker.(*natsbroker.Broker).Conn().ConnectedUrlRedacted(), "prefix", *prefix)
	}
	e.log.Info("hub", attrs...)
	// The hub first, so that what is queued leaves before the connections
	// close.
	err = waitAndStop(e, func(ctx context.Context) error {
		return errors.Join(h.GracefulStop(ctx), l.GracefulStop(ctx))
	})
	e.log.Info("stopped")
	return err
}

// hubService speaks the hub's JSON protocol on each connection, and logs
// as the ws listen service does.
type hubService struct {
	h *hub.Hub
	wsLog
}

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

func (s *hubService) OnOpen(c *websocket.Conn) error { s.open(c); return nil }

func (s *hubService) OnTextMessage(c *websocket.Conn, text []byte) error {
	s.message(c, "text", text)
	return s.handle(c, text)
}

func (s *hubService) OnBinaryMessage(c *websocket.Conn, data []byte) error {
	s.message(c, "binary", data)
	return s.handle(c, data)
}

func (s *hubService) OnClose(c *websocket.Conn, code int, reason string) { s.closed(c, code, reason) }

func (s *hubService) OnError(c *websocket.Conn, err error) { s.failed(c, err) }

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
