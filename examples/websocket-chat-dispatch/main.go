// Command websocket-chat-dispatch is a data-bound chat service with custom
// dispatch (Ballerina's dispatcherKey): each text message is a JSON object
// whose "event" field picks the method, OnSubscribe, OnPublish or
// OnHeartbeat, which receives the message decoded into its own type and
// returns its answer.
//
//	go run ./examples/websocket-chat-dispatch -port 9090
//
// With -demo it also runs two clients against itself and prints what they
// receive.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"time"

	"github.com/netkit-go/netkit/websocket"
)

// Subscribe is {"event":"subscribe","topic":"..."}.
type Subscribe struct {
	Topic string `json:"topic"`
}

// Publish is {"event":"publish","topic":"...","text":"..."}.
type Publish struct {
	Topic string `json:"topic"`
	Text  string `json:"text"`
}

// Heartbeat is {"event":"heartbeat","seq":N}.
type Heartbeat struct {
	Seq int `json:"seq"`
}

// Reply is every message the service sends.
type Reply struct {
	Event string `json:"event"`
	Topic string `json:"topic,omitempty"`
	Text  string `json:"text,omitempty"`
	From  string `json:"from,omitempty"`
	Seq   int    `json:"seq,omitempty"`
	Count int    `json:"count,omitempty"`
}

// Hub is the chat service: one value serves every connection.
type Hub struct {
	mu     sync.Mutex
	topics map[string]map[*websocket.Conn]bool
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{topics: make(map[string]map[*websocket.Conn]bool)} }

// OnSubscribe adds the connection to a topic.
func (h *Hub) OnSubscribe(c *websocket.Conn, m Subscribe) (Reply, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.topics[m.Topic] == nil {
		h.topics[m.Topic] = make(map[*websocket.Conn]bool)
	}
	h.topics[m.Topic][c] = true
	return Reply{Event: "subscribed", Topic: m.Topic}, nil
}

// OnPublish sends the text to every subscriber of the topic and tells the
// publisher how many got it.
func (h *Hub) OnPublish(c *websocket.Conn, m Publish) (Reply, error) {
	h.mu.Lock()
	subs := make([]*websocket.Conn, 0, len(h.topics[m.Topic]))
	for s := range h.topics[m.Topic] {
		subs = append(subs, s)
	}
	h.mu.Unlock()
	msg := Reply{Event: "message", Topic: m.Topic, Text: m.Text, From: c.ID()}
	n := 0
	for _, s := range subs {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if s.WriteMessage(ctx, msg) == nil {
			n++
		}
		cancel()
	}
	return Reply{Event: "published", Topic: m.Topic, Count: n}, nil
}

// OnHeartbeat answers a heartbeat.
func (h *Hub) OnHeartbeat(c *websocket.Conn, m Heartbeat) (Reply, error) {
	return Reply{Event: "heartbeat", Seq: m.Seq}, nil
}

// OnMessage gets what no custom method took (an unknown event, or a
// message that is not JSON).
func (h *Hub) OnMessage(c *websocket.Conn, raw json.RawMessage) (Reply, error) {
	return Reply{Event: "error", Text: "unknown event"}, nil
}

// OnError gets binding failures (a field of the wrong type).
func (h *Hub) OnError(c *websocket.Conn, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.WriteMessage(ctx, Reply{Event: "error", Text: err.Error()})
}

// OnClose drops the connection from every topic.
func (h *Hub) OnClose(c *websocket.Conn, code int, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, subs := range h.topics {
		delete(subs, c)
	}
}

// listen starts the hub on port (0: any) of host.
func listen(host string, port int) (*websocket.Listener, error) {
	l, err := websocket.NewListener(port, &websocket.ListenerConfig{Host: host})
	if err != nil {
		return nil, err
	}
	if err := l.Attach("/chat", websocket.Static(NewHub()), &websocket.ServiceConfig{DispatcherKey: "event"}); err != nil {
		return nil, err
	}
	return l, l.Start()
}

// demo runs two clients against url and prints what they receive.
func demo(ctx context.Context, url string, out io.Writer) error {
	alice, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return err
	}
	defer alice.Close(ctx, 1000, "")
	bob, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return err
	}
	defer bob.Close(ctx, 1000, "")
	exchange := func(name string, c *websocket.Client, msg string, replies int) error {
		if err := c.WriteTextMessage(ctx, []byte(msg)); err != nil {
			return err
		}
		for range replies {
			var r Reply
			if err := c.ReadMessage(ctx, &r); err != nil {
				return err
			}
			r.From = "" // connection ids vary
			b, _ := json.Marshal(r)
			fmt.Fprintf(out, "%s <- %s\n", name, b)
		}
		return nil
	}
	steps := []struct {
		name    string
		c       *websocket.Client
		msg     string
		replies int
	}{
		{"alice", alice, `{"event":"subscribe","topic":"news"}`, 1},
		{"bob", bob, `{"event":"publish","topic":"news","text":"hello"}`, 1},
		{"alice", alice, `{"event":"heartbeat","seq":1}`, 2}, // the delivery, then the heartbeat
		{"bob", bob, `{"event":"heartbeat","seq":"one"}`, 1},
		{"bob", bob, `{"event":"dance"}`, 1},
	}
	for _, s := range steps {
		if err := exchange(s.name, s.c, s.msg, s.replies); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	port := flag.Int("port", 9090, "port to listen on")
	runDemo := flag.Bool("demo", false, "run two demo clients, then exit")
	flag.Parse()
	l, err := listen("127.0.0.1", *port)
	if err != nil {
		log.Fatal(err)
	}
	defer l.ImmediateStop()
	url := "ws://127.0.0.1:" + strconv.Itoa(l.Port()) + "/chat"
	if *runDemo {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := demo(ctx, url, os.Stdout); err != nil {
			log.Fatal(err)
		}
		return
	}
	log.Printf("chat on %s", url)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l.GracefulStop(sctx)
}
