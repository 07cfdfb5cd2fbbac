package hub_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/netkit-go/netkit/hub"
	"github.com/netkit-go/netkit/internal/leakcheck"
	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/websocket"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// node is one hub behind a WebSocket listener: a connection to /hub?sub=P
// is subscribed to each pattern P, then told "ready".
type node struct {
	h      *hub.Hub
	l      *websocket.Listener
	opened chan *websocket.Conn // each server connection, once subscribed
}

func startNode(t testing.TB, cfg *hub.Config) *node {
	t.Helper()
	var c hub.Config
	if cfg != nil {
		c = *cfg
	}
	if c.Logger == nil {
		c.Logger = netkittest.DiscardLogger
	}
	h := hub.New(&c)
	opened := make(chan *websocket.Conn, 1000)
	// Small socket buffers, so that a subscriber that stops reading stalls
	// its writer after a few hundred kilobytes.
	l, err := websocket.NewListener(0, &websocket.ListenerConfig{Host: "127.0.0.1", Logger: netkittest.DiscardLogger,
		ListenConfig: &net.ListenConfig{Control: smallBuffer(syscall.SO_SNDBUF)}})
	if err != nil {
		t.Fatal(err)
	}
	up := websocket.UpgradeFunc(func(r *http.Request, _ http.Header) (websocket.Service, error) {
		subs := r.URL.Query()["sub"]
		return websocket.ServiceFuncs{OnOpen: func(c *websocket.Conn) error {
			for _, p := range subs {
				if err := h.Subscribe(c.Context(), c, p); err != nil {
					return err
				}
			}
			select {
			case opened <- c:
			default:
			}
			return c.WriteTextMessage(context.Background(), []byte("ready"))
		}}, nil
	})
	if err := l.Attach("/hub", up, &websocket.ServiceConfig{Logger: netkittest.DiscardLogger}); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.ImmediateStop()
		l.ImmediateStop()
	})
	return &node{h: h, l: l, opened: opened}
}

// dial connects a subscriber of patterns and waits for "ready".
func (n *node) dial(t testing.TB, patterns ...string) *websocket.Client {
	t.Helper()
	u := "ws://" + n.l.Addr().String() + "/hub?"
	for i, p := range patterns {
		if i > 0 {
			u += "&"
		}
		u += "sub=" + p
	}
	ctx := netkittest.Context(t)
	cl, err := websocket.Dial(ctx, u, &websocket.ClientConfig{Dialer: &net.Dialer{Control: smallBuffer(syscall.SO_RCVBUF)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close(context.Background(), 1000, "") })
	if m, err := cl.ReadTextMessage(ctx); err != nil || string(m) != "ready" {
		t.Fatalf("ready: %q, %v", m, err)
	}
	return cl
}

// smallBuffer sets a socket's buffer opt to 32 KiB.
func smallBuffer(opt int) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, opt, 32<<10) })
		if err != nil {
			return err
		}
		return serr
	}
}

func publish(t testing.TB, h *hub.Hub, topic, msg string) {
	t.Helper()
	if err := h.Publish(context.Background(), topic, websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

func read(t testing.TB, cl *websocket.Client) string {
	t.Helper()
	m, err := cl.ReadTextMessage(netkittest.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	return string(m)
}

// expect reads want, in order, then checks that nothing else came by
// publishing a sentinel on sentinelTopic (which cl must receive).
func expect(t testing.TB, cl *websocket.Client, h *hub.Hub, sentinelTopic string, want ...string) {
	t.Helper()
	for _, w := range want {
		if got := read(t, cl); got != w {
			t.Fatalf("got %q, want %q", got, w)
		}
	}
	publish(t, h, sentinelTopic, "sentinel")
	if got := read(t, cl); got != "sentinel" {
		t.Fatalf("got %q after the expected messages, want the sentinel", got)
	}
}

// eventually waits, bounded, for cond (state changed by another goroutine
// that the test cannot join, such as a context.AfterFunc).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func seq(i int) string { return strconv.Itoa(i) }

func isCloseCode(err error, code int) bool {
	var ce *websocket.CloseError
	return errors.As(err, &ce) && ce.Code == code
}
