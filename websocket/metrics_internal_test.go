package websocket

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"

	"github.com/netkit-go/netkit/internal/obs/obstest"
	"github.com/netkit-go/netkit/netkittest"
)

// After a known exchange the listener's and the clients' instruments hold
// exactly its counts: N connections with M text and one binary message
// each way, one compressed message, one refused upgrade (404), one close
// 1009, one TrySend dropped on a busy connection, and the normal closes.
// Each upgrade and each dial has one span, and the upgrade's span is a
// child of the dial's (the trace context travels in the request headers).
func TestMetricsCountAKnownExchange(t *testing.T) {
	const n, m = 2, 3
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTextMapPropagator(prev) })
	ctx := netkittest.Context(t)
	srvM, cliM := obstest.NewMetrics(t), obstest.NewMetrics(t)
	srvT, cliT := obstest.NewSpans(t), obstest.NewSpans(t)

	pm, err := NewPreparedMessage(TextMessage, []byte("never sent"))
	if err != nil {
		t.Fatal(err)
	}
	svc := &ServiceFuncs{
		OnTextMessage: func(c *Conn, text []byte) error {
			if string(text) != "drop" {
				return c.WriteTextMessage(context.Background(), text)
			}
			// A writer holds the connection: TrySend drops at once.
			if err := c.ec.LockWrite(context.Background()); err != nil {
				return err
			}
			err := c.TrySend(context.Background(), pm)
			c.ec.UnlockWrite()
			return c.WriteTextMessage(context.Background(), []byte(strconv.FormatBool(errors.Is(err, ErrSendQueueFull))))
		},
		OnBinaryMessage: func(c *Conn, data []byte) error { return c.WriteBinaryMessage(context.Background(), data) },
	}
	l, err := NewListener(0, &ListenerConfig{Host: "127.0.0.1", Logger: netkittest.DiscardLogger,
		MeterProvider: srvM.Provider, TracerProvider: srvT.Provider})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Attach("/echo", Static(svc), &ServiceConfig{MaxMessageSize: 1000}); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.ImmediateStop() })
	port := l.Port()
	base := "ws://127.0.0.1:" + strconv.Itoa(port)
	ccfg := &ClientConfig{MeterProvider: cliM.Provider, TracerProvider: cliT.Provider, Logger: netkittest.DiscardLogger}

	expect := func(cl *Client, typ MessageType, want []byte) {
		t.Helper()
		got, data, err := cl.Read(ctx, nil)
		if err != nil || got != typ || !bytes.Equal(data, want) {
			t.Fatalf("read %v %q %v, want %v %q", got, data, err, typ, want)
		}
	}
	big := bytes.Repeat([]byte("compress me "), 25) // 300 bytes: over the 128-byte threshold
	for i := range n {
		cl, err := Dial(ctx, base+"/echo", ccfg)
		if err != nil {
			t.Fatal(err)
		}
		for range m {
			cl.WriteTextMessage(ctx, []byte("hello"))
			expect(cl, TextMessage, []byte("hello"))
		}
		cl.WriteBinaryMessage(ctx, []byte{1, 2, 3})
		expect(cl, BinaryMessage, []byte{1, 2, 3})
		if i == 0 {
			cl.WriteTextMessage(ctx, big)
			expect(cl, TextMessage, big)
			cl.WriteTextMessage(ctx, []byte("drop"))
			expect(cl, TextMessage, []byte("true"))
		}
		if err := cl.Close(ctx, 1000, ""); err != nil {
			t.Fatal(err)
		}
	}
	// One refused upgrade.
	var hre *InvalidHandshakeError
	if _, err := Dial(ctx, base+"/nope", ccfg); !errors.As(err, &hre) {
		t.Fatalf("dial /nope: %v", err)
	}
	// One close 1009: a message over MaxMessageSize.
	cl, err := Dial(ctx, base+"/echo", ccfg)
	if err != nil {
		t.Fatal(err)
	}
	cl.WriteBinaryMessage(ctx, make([]byte, 2000))
	var ce *CloseError
	if _, _, err := cl.Read(ctx, nil); !errors.As(err, &ce) || ce.Code != 1009 {
		t.Fatalf("oversized message: %v", err)
	}
	cl.Close(ctx, 1000, "") // already closed: counts nothing more
	if err := l.GracefulStop(ctx); err != nil {
		t.Fatal(err)
	}

	s := srvM.Collect(t)
	text, binary := attribute.String("websocket.message.type", "text"), attribute.String("websocket.message.type", "binary")
	code := func(c int) attribute.KeyValue { return attribute.Int("websocket.close.code", c) }
	status := func(c int) attribute.KeyValue { return attribute.Int("http.response.status_code", c) }
	check := func(side string, s obstest.Snapshot, name string, want int64, kv ...attribute.KeyValue) {
		t.Helper()
		if got := s.Sum(name, kv...); got != want {
			t.Errorf("%s %s%v = %d, want %d", side, name, kv, got, want)
		}
	}
	check("server", s, "netkit.websocket.upgrades", n+1, status(101), attribute.String("http.route", "/echo"))
	check("server", s, "netkit.websocket.upgrades", 1, status(404))
	// Connections count from accept, as Kestrel's do: the refused one too.
	check("server", s, "netkit.connection.opened", n+2)
	check("server", s, "netkit.connection.closed", n+2)
	check("server", s, "netkit.active_connections", 0)
	check("server", s, "netkit.upgraded_connections", 0)
	check("server", s, "netkit.received.messages", n*m+2, text)
	check("server", s, "netkit.received.messages", n, binary)
	check("server", s, "netkit.sent.messages", n*m+2, text)
	check("server", s, "netkit.sent.messages", n, binary)
	check("server", s, "netkit.received.bytes", int64(n*m*5+len(big)+4+n*3), attribute.String("netkit.face", "websocket"))
	check("server", s, "netkit.websocket.dropped.messages", 1, attribute.String("netkit.drop.reason", "queue_full"))
	check("server", s, "netkit.websocket.close.sent", 1, code(1009))
	check("server", s, "netkit.websocket.close.sent", n, code(1000))
	check("server", s, "netkit.websocket.close.received", n, code(1000))
	check("server", s, "netkit.errors", 1, attribute.String("error.type", "message_too_large"))
	check("server", s, "netkit.stops", 1, attribute.String("netkit.stop.kind", "graceful"))
	if got := s.Count("netkit.websocket.handshake.duration"); got != n+1 {
		t.Errorf("server handshakes: %d, want %d", got, n+1)
	}
	if got := s.Count("netkit.connection.duration"); got != n+2 {
		t.Errorf("server durations: %d, want %d", got, n+2)
	}
	if got := s.Count("netkit.websocket.compression.ratio"); got != 1 {
		t.Errorf("server compressed messages: %d, want 1", got)
	}

	c := cliM.Collect(t)
	check("client", c, "netkit.connection.opened", n+1)
	check("client", c, "netkit.connection.closed", n+1)
	check("client", c, "netkit.active_connections", 0)
	check("client", c, "netkit.sent.messages", n*m+2, text)
	check("client", c, "netkit.sent.messages", n+1, binary)
	check("client", c, "netkit.received.messages", n*m+2, text)
	check("client", c, "netkit.received.messages", n, binary)
	check("client", c, "netkit.websocket.close.received", 1, code(1009))
	check("client", c, "netkit.websocket.close.sent", n, code(1000))
	check("client", c, "netkit.websocket.close.sent", 1, code(1009)) // the echo
	check("client", c, "netkit.errors", 1, attribute.String("error.type", "handshake"))
	check("client", c, "netkit.connection.opened", n+1, attribute.Int("server.port", port), attribute.String("server.address", "127.0.0.1"))
	if got := c.Count("netkit.websocket.handshake.duration"); got != n+1 {
		t.Errorf("client handshakes: %d, want %d", got, n+1)
	}
	if got := c.Count("netkit.websocket.compression.ratio"); got != 2 { // big and the oversized one
		t.Errorf("client compressed messages: %d, want 2", got)
	}

	dials := cliT.Ended("websocket.dial")
	ups := srvT.Ended("GET /echo")
	if len(dials) != n+2 || len(ups) != n+1 || len(srvT.Ended("GET")) != 1 {
		t.Fatalf("%d dial spans, %d upgrade spans, %d refused: want %d, %d, 1", len(dials), len(ups), len(srvT.Ended("GET")), n+2, n+1)
	}
	parents := map[string]bool{}
	for _, d := range dials {
		parents[d.SpanContext().SpanID().String()] = true
	}
	for _, u := range ups {
		if !parents[u.Parent().SpanID().String()] || !u.Parent().IsRemote() {
			t.Errorf("upgrade span %v: parent %v is no dial span", u.SpanContext().SpanID(), u.Parent().SpanID())
		}
	}
}

// The listener counts its connections from accept (after TLS), upgraded or
// not; netkit.upgraded_connections only the WebSockets; a failed TLS
// handshake as an error of type tls (and no connection); a request without
// Upgrade as no upgrade; a graceful stop, with its close 1001 sent from the
// Stopping hook.
func TestMetricsConnectionsFromAccept(t *testing.T) {
	ctx := netkittest.Context(t)
	srvM, cliM := obstest.NewMetrics(t), obstest.NewMetrics(t)
	srvTLS, cliTLS := netkittest.TLSPair(t)
	l, err := NewListener(0, &ListenerConfig{Host: "127.0.0.1", Logger: netkittest.DiscardLogger,
		TLSConfig: srvTLS, MeterProvider: srvM.Provider})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Attach("/echo", Static(Echo), nil); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.ImmediateStop() })
	addr := l.Addr().String()

	// One WebSocket, its open counted once an echo came back.
	cl, err := Dial(ctx, "wss://"+addr+"/echo", &ClientConfig{TLSConfig: cliTLS, MeterProvider: cliM.Provider, Logger: netkittest.DiscardLogger})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.WriteTextMessage(ctx, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cl.Read(ctx, nil); err != nil {
		t.Fatal(err)
	}
	// A plain-text client on the TLS port: its handshake fails; counted
	// before the server closes it.
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	raw.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	io.Copy(io.Discard, raw)
	raw.Close()
	// A TLS client with a request that is no upgrade: 404, no upgrade.
	tc, err := tls.Dial("tcp", addr, cliTLS)
	if err != nil {
		t.Fatal(err)
	}
	tc.Write([]byte("GET /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n"))
	resp, _ := io.ReadAll(tc)
	tc.Close()
	if !bytes.HasPrefix(resp, []byte("HTTP/1.1 404")) {
		t.Fatalf("plain request: %q", resp)
	}

	s := srvM.Collect(t)
	check := func(s obstest.Snapshot, name string, want int64, kv ...attribute.KeyValue) {
		t.Helper()
		if got := s.Sum(name, kv...); got != want {
			t.Errorf("%s%v = %d, want %d", name, kv, got, want)
		}
	}
	check(s, "netkit.connection.opened", 2)
	check(s, "netkit.upgraded_connections", 1)
	check(s, "netkit.errors", 1, attribute.String("error.type", "tls"))
	check(s, "netkit.websocket.upgrades", 1)
	check(s, "netkit.websocket.upgrades", 1, attribute.Int("http.response.status_code", 101))

	// The client answers the stop's 1001 while it reads.
	read := make(chan error, 1)
	go func() {
		_, _, err := cl.Read(ctx, nil)
		read <- err
	}()
	if err := l.GracefulStop(ctx); err != nil {
		t.Fatal(err)
	}
	var ce *CloseError
	if err := <-read; !errors.As(err, &ce) || ce.Code != 1001 {
		t.Fatalf("client read after the stop: %v", err)
	}
	s = srvM.Collect(t)
	check(s, "netkit.connection.opened", 2)
	check(s, "netkit.connection.closed", 2)
	check(s, "netkit.active_connections", 0)
	check(s, "netkit.upgraded_connections", 0)
	check(s, "netkit.stops", 1, attribute.String("netkit.stop.kind", "graceful"))
	check(s, "netkit.websocket.close.sent", 1, attribute.Int("websocket.close.code", 1001))
	check(s, "netkit.websocket.close.received", 1, attribute.Int("websocket.close.code", 1001))
	if got := s.Count("netkit.connection.duration"); got != 2 {
		t.Errorf("server durations: %d, want 2", got)
	}
	check(cliM.Collect(t), "netkit.websocket.close.received", 1, attribute.Int("websocket.close.code", 1001))
}

// metricsReturner answers each text with a returned value (sent by the
// session through Conn.Write).
type metricsReturner struct{}

func (metricsReturner) OnMessage(_ *Conn, text string) (any, error) { return "re: " + text, nil }

// metricsAuth admits "Bearer ok", refuses "Bearer noscope" with 403 and
// anything else with 401.
type metricsAuth struct{}

func (metricsAuth) Authenticate(_ context.Context, r *http.Request) (*Principal, error) {
	switch r.Header.Get("Authorization") {
	case "Bearer ok":
		return &Principal{Name: "pat"}, nil
	case "Bearer noscope":
		return nil, &AuthzError{Message: "no scope"}
	}
	return nil, errors.New("unknown")
}

// Upgrades refused by ServiceConfig.Auth count with their status (401,
// 403), and a data-bound OnMessage's returned values count as sent
// messages, as explicit writes do.
func TestMetricsAuthAndReturnValues(t *testing.T) {
	ctx := netkittest.Context(t)
	srvM := obstest.NewMetrics(t)
	l, err := NewListener(0, &ListenerConfig{Host: "127.0.0.1", Logger: netkittest.DiscardLogger, MeterProvider: srvM.Provider})
	if err != nil {
		t.Fatal(err)
	}
	sc := &ServiceConfig{Auth: []ListenerAuth{metricsAuth{}}, Logger: netkittest.DiscardLogger}
	if err := l.Attach("/r", Static(metricsReturner{}), sc); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.ImmediateStop() })
	url := "ws://127.0.0.1:" + strconv.Itoa(l.Port()) + "/r"
	for _, tok := range []string{"bad", "noscope", "noscope"} {
		var he *InvalidHandshakeError
		if _, err := Dial(ctx, url, &ClientConfig{Auth: BearerAuth{Token: tok}, Logger: netkittest.DiscardLogger}); !errors.As(err, &he) {
			t.Fatalf("dial with %q: %v, want a refused handshake", tok, err)
		}
	}
	cl, err := Dial(ctx, url, &ClientConfig{Auth: BearerAuth{Token: "ok"}, Logger: netkittest.DiscardLogger})
	if err != nil {
		t.Fatal(err)
	}
	const m = 3
	for range m {
		if err := cl.WriteTextMessage(ctx, []byte("hi")); err != nil {
			t.Fatal(err)
		}
		if typ, data, err := cl.Read(ctx, nil); err != nil || typ != TextMessage || string(data) != "re: hi" {
			t.Fatalf("read %v %q %v", typ, data, err)
		}
	}
	if err := cl.Close(ctx, 1000, ""); err != nil {
		t.Fatal(err)
	}
	if err := l.GracefulStop(ctx); err != nil {
		t.Fatal(err)
	}
	s := srvM.Collect(t)
	status := func(c int) attribute.KeyValue { return attribute.Int("http.response.status_code", c) }
	text := attribute.String("websocket.message.type", "text")
	for _, c := range []struct {
		name string
		want int64
		kv   []attribute.KeyValue
	}{
		{"netkit.websocket.upgrades", 1, []attribute.KeyValue{status(401)}},
		{"netkit.websocket.upgrades", 2, []attribute.KeyValue{status(403)}},
		{"netkit.websocket.upgrades", 1, []attribute.KeyValue{status(101)}},
		{"netkit.received.messages", m, []attribute.KeyValue{text}},
		{"netkit.sent.messages", m, []attribute.KeyValue{text}},
	} {
		if got := s.Sum(c.name, c.kv...); got != c.want {
			t.Errorf("%s%v = %d, want %d", c.name, c.kv, got, c.want)
		}
	}
}
