package natsbroker_test

import (
	"errors"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/netkit-go/netkit/hub"
	"github.com/netkit-go/netkit/hub/natsbroker"
	"github.com/netkit-go/netkit/internal/leakcheck"
	"github.com/netkit-go/netkit/internal/natstest"
	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/websocket"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

type delivery struct {
	topic string
	typ   websocket.MessageType
	data  string
}

func connect(t *testing.T, url, prefix string) *natsbroker.Broker {
	t.Helper()
	b, err := natsbroker.Connect(netkittest.Context(t), &natsbroker.Config{URL: url, Prefix: prefix, Logger: netkittest.DiscardLogger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// The subjects are plain NATS: a foreign client publishes to the hub's
// subscribers and listens to its topics.
func TestForeignClients(t *testing.T) {
	srv := natstest.Start(t, natstest.Options{})
	ctx := netkittest.Context(t)
	b := connect(t, srv.URL(), "app.ws")
	got := make(chan delivery, 10)
	cancel, err := b.Subscribe(ctx, "chat.*", func(topic string, typ websocket.MessageType, data []byte) {
		got <- delivery{topic, typ, string(data)}
	})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	foreign, err := nc.SubscribeSync("app.ws.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	nc.Publish("app.ws.chat.lobby", []byte("hi"))
	nc.Publish("app.ws.chat.raw", []byte{0xff, 0xfe})
	nc.PublishMsg(&nats.Msg{Subject: "app.ws.chat.bin", Data: []byte{1}, Header: nats.Header{natsbroker.TypeHeader: {"binary"}}})
	for _, want := range []delivery{{"chat.lobby", websocket.TextMessage, "hi"}, {"chat.raw", websocket.TextMessage, "\xff\xfe"},
		{"chat.bin", websocket.BinaryMessage, "\x01"}} {
		select {
		case d := <-got:
			if d != want {
				t.Fatalf("got %+v, want %+v", d, want)
			}
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	if err := b.Publish(ctx, "news", websocket.TextMessage, []byte("out")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"app.ws.chat.lobby", "app.ws.chat.raw", "app.ws.chat.bin", "app.ws.news"} {
		m, err := foreign.NextMsg(5 * time.Second)
		if err != nil || m.Subject != want {
			t.Fatalf("foreign subscriber: %v, %v; want %s", m, err, want)
		}
	}
	if b.Subject("x.y") != "app.ws.x.y" {
		t.Fatalf("Subject: %q", b.Subject("x.y"))
	}
	if err := cancel(); err != nil {
		t.Fatal(err)
	}
	if err := cancel(); err != nil {
		t.Fatalf("second cancel: %v", err)
	}
}

// No echo: a broker does not get its own publishes.
func TestNoEcho(t *testing.T) {
	srv := natstest.Start(t, natstest.Options{})
	ctx := netkittest.Context(t)
	b1, b2 := connect(t, srv.URL(), ""), connect(t, srv.URL(), "")
	got1, got2 := make(chan string, 10), make(chan string, 10)
	for _, s := range []struct {
		b  *natsbroker.Broker
		ch chan string
	}{{b1, got1}, {b2, got2}} {
		if _, err := s.b.Subscribe(ctx, "t", func(_ string, _ websocket.MessageType, d []byte) { s.ch <- string(d) }); err != nil {
			t.Fatal(err)
		}
	}
	b1.Publish(ctx, "t", websocket.TextMessage, []byte("one"))
	b2.Publish(ctx, "t", websocket.TextMessage, []byte("two"))
	// Each gets the other's message; its own would come before it.
	if m := <-got2; m != "one" {
		t.Fatalf("b2 got %q", m)
	}
	if m := <-got1; m != "two" {
		t.Fatalf("b1 got %q (its own message echoed?)", m)
	}
}

func TestBadInput(t *testing.T) {
	srv := natstest.Start(t, natstest.Options{})
	ctx := netkittest.Context(t)
	if _, err := natsbroker.Connect(ctx, &natsbroker.Config{URL: srv.URL(), Prefix: "a.*"}); !errors.Is(err, hub.ErrBadTopic) {
		t.Fatalf("wildcard prefix: %v", err)
	}
	b := connect(t, srv.URL(), "")
	if _, err := b.Subscribe(ctx, "a..b", nil); !errors.Is(err, hub.ErrBadTopic) {
		t.Fatalf("bad pattern: %v", err)
	}
	port := srv.Port()
	srv.Stop()
	start := time.Now()
	if _, err := natsbroker.Connect(ctx, &natsbroker.Config{URL: "nats://127.0.0.1:" + itoa(port), Timeout: time.Second}); !errors.Is(err, syscall.ECONNREFUSED) {
		// The cause is kept (it was nats.ErrNoServers alone before).
		t.Fatalf("connect to a stopped server: %v, want connection refused", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("connect took %v", d)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// A failed Connect names the servers it tried without their credentials
// (it repeated the URL, password or token included, before).
func TestConnectErrorRedactsCredentials(t *testing.T) {
	ctx := netkittest.Context(t)
	addr := "127.0.0.1:" + itoa(netkittest.ClosedPort(t))
	for _, c := range []struct{ url, secret, want string }{
		{"nats://alice:s3cret@" + addr, "s3cret", "nats://alice:xxxxx@" + addr},
		{"nats://t0ken@" + addr, "t0ken", "nats://xxxxx@" + addr},
		{"nats://" + addr + ", nats://bob:pw9@" + addr, "pw9", "nats://" + addr + ",nats://bob:xxxxx@" + addr},
	} {
		_, err := natsbroker.Connect(ctx, &natsbroker.Config{URL: c.url, Timeout: time.Second, Logger: netkittest.DiscardLogger})
		if err == nil {
			t.Fatalf("%s: connected to a closed port", c.url)
		}
		if strings.Contains(err.Error(), c.secret) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q, want %q in it and no %q", c.url, err, c.want, c.secret)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("%s: %v, want connection refused", c.url, err)
		}
	}
}

// Durations follow the convention where NATS allows it: a negative
// ReconnectWait means no pause of the broker's own (Connect goes on to
// dial), a negative Timeout is a configuration error (nats.go needs a
// bound for each handshake).
func TestConnectDurations(t *testing.T) {
	ctx := netkittest.Context(t)
	url := "nats://127.0.0.1:" + itoa(netkittest.ClosedPort(t))
	if _, err := natsbroker.Connect(ctx, &natsbroker.Config{URL: url, Timeout: -1}); err == nil || !strings.Contains(err.Error(), "negative Timeout") {
		t.Errorf("negative Timeout: %v, want a configuration error", err)
	}
	if _, err := natsbroker.Connect(ctx, &natsbroker.Config{URL: url, ReconnectWait: -1, Timeout: time.Second}); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("negative ReconnectWait: %v, want the dial's refusal", err)
	}
}
