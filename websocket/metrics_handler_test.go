package websocket

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/netkit-go/netkit/internal/obs/obstest"
	"github.com/netkit-go/netkit/netkittest"
)

// serveMux serves mux on a loopback http.Server until the test ends.
func serveMux(t *testing.T, mux http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return ln.Addr().String()
}

func metricsCheck(t *testing.T, s obstest.Snapshot, name string, want int64, kv ...attribute.KeyValue) {
	t.Helper()
	if got := s.Sum(name, kv...); got != want {
		t.Errorf("%s%v = %d, want %d", name, kv, got, want)
	}
}

// echoOnce dials url with cfg (nil: defaults), echoes one text message
// and closes with 1000.
func echoOnce(t *testing.T, url string, cfg *ClientConfig) {
	t.Helper()
	ctx := netkittest.Context(t)
	if cfg == nil {
		cfg = &ClientConfig{Logger: netkittest.DiscardLogger}
	}
	cl, err := Dial(ctx, url, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.WriteTextMessage(ctx, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if _, p, err := cl.Read(ctx, nil); err != nil || string(p) != "hi" {
		t.Fatalf("echo %q %v", p, err)
	}
	if err := cl.Close(ctx, 1000, ""); err != nil {
		t.Fatal(err)
	}
}

// A standalone Handler mounted on an http.ServeMux reports through its
// ServiceConfig's providers: its upgrade requests by status with the mux
// pattern as http.route, one span each, its connection and messages.
func TestMetricsStandaloneHandler(t *testing.T) {
	mt, sp := obstest.NewMetrics(t), obstest.NewSpans(t)
	h := NewHandler(Static(Echo), &ServiceConfig{Logger: netkittest.DiscardLogger, SubProtocols: []string{"chat"},
		MeterProvider: mt.Provider, TracerProvider: sp.Provider})
	t.Cleanup(func() { h.ImmediateStop() })
	mux := http.NewServeMux()
	mux.Handle("/ws/{room}", h)
	addr := serveMux(t, mux)
	ctx := netkittest.Context(t)
	echoOnce(t, "ws://"+addr+"/ws/lobby", &ClientConfig{SubProtocols: []string{"chat"}, Logger: netkittest.DiscardLogger})
	// No subprotocol offered: 400.
	if _, err := Dial(ctx, "ws://"+addr+"/ws/lobby", &ClientConfig{Logger: netkittest.DiscardLogger}); err == nil {
		t.Fatal("an upgrade without the subprotocol was accepted")
	}
	// Not an upgrade: not counted.
	resp, err := http.Get("http://" + addr + "/ws/lobby")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := h.GracefulStop(ctx); err != nil { // the connection's end counted
		t.Fatal(err)
	}
	s := mt.Collect(t)
	route := attribute.String("http.route", "/ws/{room}")
	metricsCheck(t, s, "netkit.websocket.upgrades", 2)
	metricsCheck(t, s, "netkit.websocket.upgrades", 1, attribute.Int("http.response.status_code", 101), route)
	metricsCheck(t, s, "netkit.websocket.upgrades", 1, attribute.Int("http.response.status_code", 400), route)
	metricsCheck(t, s, "netkit.connection.opened", 1)
	metricsCheck(t, s, "netkit.connection.closed", 1)
	metricsCheck(t, s, "netkit.upgraded_connections", 0)
	metricsCheck(t, s, "netkit.received.messages", 1, attribute.String("websocket.message.type", "text"))
	metricsCheck(t, s, "netkit.sent.messages", 1)
	metricsCheck(t, s, "netkit.websocket.close.received", 1, attribute.Int("websocket.close.code", 1000))
	if got := len(sp.Ended("GET /ws/{room}")); got != 2 {
		t.Errorf("%d upgrade spans, want 2", got)
	}
}

// Accept reports through its ServiceConfig's providers: the upgrade, the
// connection and its messages.
func TestMetricsAccept(t *testing.T) {
	mt, sp := obstest.NewMetrics(t), obstest.NewSpans(t)
	done := make(chan error, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/pull", func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, &ServiceConfig{Logger: netkittest.DiscardLogger, MeterProvider: mt.Provider, TracerProvider: sp.Provider})
		if err != nil {
			done <- err
			return
		}
		ctx := context.Background()
		for {
			typ, p, err := c.Read(ctx, nil)
			if err != nil {
				var ce *CloseError
				if errors.As(err, &ce) {
					err = nil
				}
				done <- err
				return
			}
			if err := c.Write(ctx, typ, p); err != nil {
				done <- err
				return
			}
		}
	})
	addr := serveMux(t, mux)
	echoOnce(t, "ws://"+addr+"/pull", nil)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// A refused Accept: a bad version.
	req, _ := http.NewRequest("GET", "http://"+addr+"/pull", nil)
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := <-done; err == nil {
		t.Fatal("Accept took a request without a key")
	}
	s := mt.Collect(t)
	route := attribute.String("http.route", "/pull")
	metricsCheck(t, s, "netkit.websocket.upgrades", 1, attribute.Int("http.response.status_code", 101), route)
	metricsCheck(t, s, "netkit.websocket.upgrades", 1, attribute.Int("http.response.status_code", resp.StatusCode), route)
	metricsCheck(t, s, "netkit.connection.opened", 1)
	metricsCheck(t, s, "netkit.received.messages", 1)
	metricsCheck(t, s, "netkit.sent.messages", 1)
	if got := len(sp.Ended("GET /pull")); got != 2 {
		t.Errorf("%d upgrade spans, want 2", got)
	}
}

// A Listener mounted in another http.Server counts its upgrade requests
// with the attached path as http.route, refusals included.
func TestMetricsListenerMounted(t *testing.T) {
	mt := obstest.NewMetrics(t)
	l, err := NewListener(0, &ListenerConfig{Host: "127.0.0.1", Logger: netkittest.DiscardLogger, MeterProvider: mt.Provider})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Attach("/echo", Static(Echo), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.ImmediateStop() })
	addr := serveMux(t, l)
	echoOnce(t, "ws://"+addr+"/echo", nil)
	if _, err := Dial(netkittest.Context(t), "ws://"+addr+"/nope", &ClientConfig{Logger: netkittest.DiscardLogger}); err == nil {
		t.Fatal("an upgrade at /nope was accepted")
	}
	s := mt.Collect(t)
	metricsCheck(t, s, "netkit.websocket.upgrades", 1, attribute.Int("http.response.status_code", 101), attribute.String("http.route", "/echo"))
	metricsCheck(t, s, "netkit.websocket.upgrades", 1, attribute.Int("http.response.status_code", 404))
	metricsCheck(t, s, "netkit.connection.opened", 1)
}
