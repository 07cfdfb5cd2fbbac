package websocket_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/netkit-go/netkit/websocket"
)

// clServe starts a netkit listener on 127.0.0.1 with up at path and returns
// its ws:// base URL.
func clServe(t testing.TB, path string, up websocket.UpgradeService, sc *websocket.ServiceConfig) string {
	t.Helper()
	var s websocket.ServiceConfig
	if sc != nil {
		s = *sc
	}
	if s.Logger == nil {
		s.Logger = quietLogger
	}
	l, err := websocket.NewListener(0, &websocket.ListenerConfig{Host: "127.0.0.1", Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Attach(path, up, &s); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.ImmediateStop() })
	return "ws://" + l.Addr().String() + path
}

func clEchoURL(t testing.TB) string {
	return clServe(t, "/echo", websocket.Static(websocket.Echo), nil)
}

// clDial dials and registers a cleanup close.
func clDial(t testing.TB, url string, cfg *websocket.ClientConfig) *websocket.Client {
	t.Helper()
	c, err := websocket.Dial(testCtx(t), url, cfg)
	if err != nil {
		t.Fatalf("Dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.Close(context.Background(), 1000, "") })
	return c
}

func TestClientEcho(t *testing.T) {
	url := clEchoURL(t)
	c := clDial(t, url, nil)
	ctx := testCtx(t)
	if c.IsSecure() || !c.IsOpen() || c.ID() == "" {
		t.Fatalf("IsSecure %v IsOpen %v ID %q", c.IsSecure(), c.IsOpen(), c.ID())
	}
	if r := c.HandshakeResponse(); r == nil || r.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("HandshakeResponse %v", r)
	}
	if err := c.WriteTextMessage(ctx, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if s, err := c.ReadTextMessage(ctx); err != nil || string(s) != "hello" {
		t.Fatalf("ReadTextMessage %q %v", s, err)
	}
	if err := c.WriteBinaryMessage(ctx, []byte{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	if b, err := c.ReadBinaryMessage(ctx); err != nil || !bytes.Equal(b, []byte{0, 1, 2}) {
		t.Fatalf("ReadBinaryMessage %v %v", b, err)
	}
	type rec struct {
		Name string `json:"name"`
		N    int    `json:"n"`
	}
	if err := c.WriteMessage(ctx, rec{Name: "a \"quoted\" name", N: 7}); err != nil {
		t.Fatal(err)
	}
	var got rec
	if err := c.ReadMessage(ctx, &got); err != nil || got.Name != "a \"quoted\" name" || got.N != 7 {
		t.Fatalf("ReadMessage %+v %v", got, err)
	}
	// A binding failure is a PayloadBindingError; the connection stays open.
	c.WriteTextMessage(ctx, []byte("not json"))
	var pbe *websocket.PayloadBindingError
	if err := c.ReadMessage(ctx, &got); !errors.As(err, &pbe) || !strings.HasPrefix(err.Error(), "data binding failed:") {
		t.Fatalf("ReadMessage of bad JSON: %v", err)
	}
	// Read appends to buf.
	c.WriteTextMessage(ctx, []byte("xyz"))
	typ, out, err := c.Read(ctx, []byte("abc"))
	if err != nil || typ != websocket.TextMessage || string(out) != "abcxyz" {
		t.Fatalf("Read %v %q %v", typ, out, err)
	}
	if err := c.Ping(ctx, []byte("p")); err != nil {
		t.Fatal(err)
	}
	// Close with the handshake: the echo arrives, the client is closed.
	if err := c.Close(ctx, 1000, "bye"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if c.IsOpen() {
		t.Fatal("IsOpen after Close")
	}
	// Reading after close is a clear error.
	_, _, err = c.Read(ctx, nil)
	if !errors.Is(err, websocket.ErrConnectionClosure) || err.Error() != "Connection already closed" || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	// Writing after close too.
	if err := c.WriteTextMessage(ctx, []byte("x")); !errors.Is(err, websocket.ErrConnectionClosure) || !strings.Contains(err.Error(), "Cannot push text data!") {
		t.Fatalf("write after Close: %v", err)
	}
	if err := c.Close(ctx, 1000, ""); !errors.Is(err, websocket.ErrConnectionClosure) || !strings.Contains(err.Error(), "Cannot send close frame again") {
		t.Fatalf("second Close: %v", err)
	}
}

func TestClientCloseInvalidCode(t *testing.T) {
	c := clDial(t, clEchoURL(t), nil)
	err := c.Close(testCtx(t), 20, "")
	if err == nil || err.Error() != "Failed to execute close. Invalid status code: 20" {
		t.Fatalf("Close(20): %v", err)
	}
	if !c.IsOpen() {
		t.Fatal("an invalid close code closed the connection")
	}
}

func TestDialMalformedURL(t *testing.T) {
	for _, u := range []string{"xxx", "127.0.0.1:9090/echo", "http://127.0.0.1:1/", "ws://", "ws://127.0.0.1:99999/", "ws://h/#frag"} {
		_, err := websocket.Dial(testCtx(t), u, nil)
		if !errors.Is(err, websocket.ErrMalformedURL) || !strings.HasPrefix(err.Error(), "websocket: malformed URL "+strconv.Quote(u)+": ") {
			t.Errorf("Dial(%q): %v", u, err)
		}
	}
}

func TestDialConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = websocket.Dial(testCtx(t), "ws://"+addr+"/", nil)
	if !errors.Is(err, websocket.ErrConnection) || !errors.Is(err, syscall.ECONNREFUSED) || !strings.HasPrefix(err.Error(), "websocket: connection error: ") {
		t.Fatalf("Dial to a closed port: %v", err)
	}
}

// TestDialHandshakeStatus: every refusal of Ballerina's handshake tests is
// an *InvalidHandshakeError with the status and the response.
func TestDialHandshakeStatus(t *testing.T) {
	up := websocket.UpgradeFunc(func(r *http.Request, h http.Header) (websocket.Service, error) {
		switch r.URL.Query().Get("s") {
		case "400":
			return nil, errors.New("cancelled by the service")
		case "401":
			return nil, &websocket.AuthnError{Message: "who are you"}
		case "403":
			return nil, &websocket.AuthzError{Message: "not you"}
		case "500":
			panic("upgrade panics")
		case "503":
			return nil, &websocket.UpgradeError{Status: 503, Message: "busy"}
		}
		return websocket.Echo, nil
	})
	url := clServe(t, "/hs", up, nil)
	base := strings.TrimSuffix(url, "/hs")
	cases := []struct {
		url    string
		status int
		body   string
	}{
		{url + "?s=400", 400, "Bad Request"},
		{url + "?s=401", 401, "who are you"},
		{url + "?s=403", 403, "not you"},
		{base + "/nothing-here", 404, ""},
		{url + "?s=500", 500, ""},
		{url + "?s=503", 503, "busy"},
	}
	for _, tc := range cases {
		_, err := websocket.Dial(testCtx(t), tc.url, nil)
		var he *websocket.InvalidHandshakeError
		if !errors.As(err, &he) {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		want := "websocket: invalid handshake: the server answered " + strconv.Itoa(tc.status) + " " + http.StatusText(tc.status)
		if he.Status != tc.status || err.Error() != want || he.Response == nil || he.Response.StatusCode != tc.status {
			t.Errorf("%s: status %d, %q, want %q", tc.url, he.Status, err.Error(), want)
		}
		body, _ := io.ReadAll(he.Response.Body)
		if !strings.Contains(string(body), tc.body) {
			t.Errorf("%s: body %q, want it to contain %q", tc.url, body, tc.body)
		}
	}
}

func TestDialSubprotocol(t *testing.T) {
	url := clServe(t, "/sub", websocket.Static(websocket.Echo), &websocket.ServiceConfig{SubProtocols: []string{"xml", "json"}})
	c := clDial(t, url, &websocket.ClientConfig{SubProtocols: []string{"json"}})
	if c.NegotiatedSubProtocol() != "json" {
		t.Fatalf("NegotiatedSubProtocol %q", c.NegotiatedSubProtocol())
	}
	_, err := websocket.Dial(testCtx(t), url, &websocket.ClientConfig{SubProtocols: []string{"yaml"}})
	var he *websocket.InvalidHandshakeError
	if !errors.As(err, &he) || he.Status != 400 {
		t.Fatalf("subprotocol mismatch: %v", err)
	}
	body, _ := io.ReadAll(he.Response.Body)
	if !strings.Contains(string(body), "Invalid subprotocol") {
		t.Fatalf("body %q", body)
	}
}

// TestDialHandshakeTimeout: a server that accepts TCP and never answers.
func TestDialHandshakeTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var conns []net.Conn
	var mu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		ln.Close()
		wg.Wait()
		for _, c := range conns {
			c.Close()
		}
	}()
	start := time.Now()
	_, err = websocket.Dial(testCtx(t), "ws://"+ln.Addr().String()+"/", &websocket.ClientConfig{HandshakeTimeout: 300 * time.Millisecond})
	var te interface{ Timeout() bool }
	if !errors.Is(err, websocket.ErrHandshakeTimedOut) || !errors.Is(err, os.ErrDeadlineExceeded) ||
		!errors.As(err, &te) || !te.Timeout() || !strings.HasPrefix(err.Error(), "websocket: handshake timed out") {
		t.Fatalf("Dial: %v", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("not a timeout: %v", err)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 5*time.Second {
		t.Fatalf("timed out after %v", d)
	}
	// ctx's deadline counts as the handshake timeout too.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err = websocket.Dial(ctx, "ws://"+ln.Addr().String()+"/", nil); !errors.As(err, &te) {
		t.Fatalf("Dial with ctx deadline: %v", err)
	}
	// Cancelling ctx is ctx's error.
	ctx2, cancel2 := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel2)
	if _, err = websocket.Dial(ctx2, "ws://"+ln.Addr().String()+"/", nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Dial with cancelled ctx: %v", err)
	}
}

func TestClientHeadersAndCookies(t *testing.T) {
	type seen struct {
		custom, cookie, auth, ua string
	}
	got := make(chan seen, 1)
	up := websocket.UpgradeFunc(func(r *http.Request, h http.Header) (websocket.Service, error) {
		got <- seen{r.Header.Get("X-Custom"), r.Header.Get("Cookie"), r.Header.Get("Authorization"), r.Header.Get("User-Agent")}
		h.Set("X-some-header", "some-value")
		h.Add("Set-Cookie", "sid=42")
		return websocket.Echo, nil
	})
	url := clServe(t, "/h", up, nil)
	c := clDial(t, url, &websocket.ClientConfig{
		CustomHeaders: http.Header{"X-Custom": {"custom-value"}},
		Cookies: []*http.Cookie{
			{Name: "short", Value: "1", Path: "/"},
			{Name: "long", Value: "2", Path: "/a/long/path"},
		},
		Auth: websocket.BearerAuth{Token: "tok123"},
	})
	s := <-got
	if s.custom != "custom-value" || s.cookie != "long=2; short=1" || s.auth != "Bearer tok123" {
		t.Fatalf("server saw %+v", s)
	}
	r := c.HandshakeResponse()
	if r.Header.Get("X-some-header") != "some-value" || r.Header.Get("Set-Cookie") != "sid=42" {
		t.Fatalf("response headers %v", r.Header)
	}
	// Basic.
	c2 := clDial(t, url, &websocket.ClientConfig{Auth: websocket.BasicAuth{Username: "alice", Password: "pw"}})
	_ = c2
	if s := <-got; s.auth != "Basic YWxpY2U6cHc=" {
		t.Fatalf("basic auth %q", s.auth)
	}
}

// TestClientReadTimeout: a read times out with a typed error, and the next
// read works, also for a message whose first half had arrived.
func TestClientReadTimeout(t *testing.T) {
	gate := make(chan struct{})
	up := websocket.Static(&websocket.ServiceFuncs{
		OnTextMessage: func(c *websocket.Conn, text []byte) error {
			reply := string(text) + "!"
			<-gate
			return c.WriteTextMessage(context.Background(), []byte(reply))
		},
	})
	url := clServe(t, "/slow", up, nil)
	c := clDial(t, url, &websocket.ClientConfig{ReadTimeout: 150 * time.Millisecond})
	var gateOnce sync.Once
	openGate := func() { gateOnce.Do(func() { close(gate) }) }
	t.Cleanup(openGate)
	ctx := testCtx(t)
	c.WriteTextMessage(ctx, []byte("a"))
	start := time.Now()
	_, _, err := c.Read(ctx, nil)
	if !errors.Is(err, websocket.ErrReadTimedOut) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read: %v", err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("timed out after %v", d)
	}
	openGate()
	if s, err := c.ReadTextMessage(ctx); err != nil || string(s) != "a!" {
		t.Fatalf("read after timeout: %q %v", s, err)
	}
	if !c.IsOpen() {
		t.Fatal("closed after a read timeout")
	}
	// A ctx deadline is ctx's error, not the read timeout.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, _, err := c.Read(short, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read with ctx deadline: %v", err)
	}
}

// TestClientPredefinedCloseFrames: each predefined close frame returned by
// the server arrives as a CloseError with Ballerina's text, the client
// echoes it, and IsOpen is false.
func TestClientPredefinedCloseFrames(t *testing.T) {
	frames := []*websocket.CloseError{
		websocket.NormalClosure, websocket.GoingAway, websocket.ProtocolError, websocket.UnsupportedData,
		websocket.InvalidPayload, websocket.PolicyViolation, websocket.MessageTooBig, websocket.InternalServerError,
		{Code: 3500, Reason: "Close the connection"},
	}
	for _, f := range frames {
		t.Run(strconv.Itoa(f.Code), func(t *testing.T) {
			echoed := make(chan int, 1)
			up := websocket.Static(&websocket.ServiceFuncs{
				OnTextMessage: func(c *websocket.Conn, text []byte) error { return f },
				OnClose:       func(c *websocket.Conn, code int, reason string) { echoed <- code },
			})
			url := clServe(t, "/close", up, nil)
			c := clDial(t, url, nil)
			ctx := testCtx(t)
			c.WriteTextMessage(ctx, []byte("close please"))
			_, _, err := c.Read(ctx, nil)
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != f.Code || ce.Reason != f.Reason {
				t.Fatalf("Read: %v", err)
			}
			if want := f.Reason + ": Status code: " + strconv.Itoa(f.Code); err.Error() != want {
				t.Fatalf("error text %q, want %q", err.Error(), want)
			}
			if !errors.Is(err, f) || !errors.Is(err, &websocket.CloseError{Code: f.Code, Reason: "other"}) ||
				errors.Is(err, &websocket.CloseError{Code: 4999}) || !errors.Is(err, net.ErrClosed) {
				t.Fatalf("errors.Is with the close code: %v", err)
			}
			if c.IsOpen() {
				t.Fatal("IsOpen after the server's close")
			}
			select {
			case code := <-echoed:
				if code != f.Code {
					t.Fatalf("server's OnClose saw %d", code)
				}
			case <-ctx.Done():
				t.Fatal("the server's close was not echoed")
			}
		})
	}
}

// TestClientCloseObservedByServer: the client's close code reaches the
// server's OnClose and Close returns after the echo.
func TestClientCloseObservedByServer(t *testing.T) {
	for _, code := range []int{1000, 1001, 4000} {
		got := make(chan string, 1)
		up := websocket.Static(&websocket.ServiceFuncs{
			OnClose: func(c *websocket.Conn, code int, reason string) { got <- strconv.Itoa(code) + " " + reason },
		})
		url := clServe(t, "/c", up, nil)
		c, err := websocket.Dial(testCtx(t), url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Close(testCtx(t), code, "client done"); err != nil {
			t.Fatalf("Close(%d): %v", code, err)
		}
		if s := <-got; s != strconv.Itoa(code)+" client done" {
			t.Fatalf("server saw %q", s)
		}
	}
}

// TestClientParallelCloseWhileReading: Close from another goroutine while a
// Read waits; the Read ends with the echo.
func TestClientParallelCloseWhileReading(t *testing.T) {
	c := clDial(t, clEchoURL(t), nil)
	ctx := testCtx(t)
	readErr := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		close(started)
		_, _, err := c.Read(ctx, nil)
		readErr <- err
	}()
	<-started
	if err := c.Close(ctx, 1000, "parallel"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-readErr; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read: %v", err)
	}
}

// TestClientPingPongHandler: pings arriving while reading go to the
// handler; without one they are answered.
func TestClientPingPongHandler(t *testing.T) {
	pongs := make(chan string, 4)
	up := websocket.Static(&websocket.ServiceFuncs{
		OnTextMessage: func(c *websocket.Conn, text []byte) error {
			if err := c.Ping(context.Background(), text); err != nil {
				return err
			}
			return c.WriteTextMessage(context.Background(), []byte("after-ping"))
		},
		OnPong: func(c *websocket.Conn, data []byte) error { pongs <- string(data); return nil },
	})
	url := clServe(t, "/pp", up, nil)
	ctx := testCtx(t)

	// Automatic pong.
	c := clDial(t, url, nil)
	c.WriteTextMessage(ctx, []byte("auto"))
	if s, err := c.ReadTextMessage(ctx); err != nil || string(s) != "after-ping" {
		t.Fatalf("%q %v", s, err)
	}
	if p := <-pongs; p != "auto" {
		t.Fatalf("pong %q", p)
	}

	// A handler that answers with its own payload.
	pings := make(chan string, 1)
	h := &websocket.ServiceFuncs{OnPing: func(c *websocket.Conn, data []byte) error {
		pings <- string(data)
		return c.Pong(context.Background(), []byte("handled"))
	}}
	c2 := clDial(t, url, &websocket.ClientConfig{PingPongHandler: h})
	c2.WriteTextMessage(ctx, []byte("hooked"))
	if s, err := c2.ReadTextMessage(ctx); err != nil || string(s) != "after-ping" {
		t.Fatalf("%q %v", s, err)
	}
	if p := <-pings; p != "hooked" {
		t.Fatalf("ping %q", p)
	}
	if p := <-pongs; p != "handled" {
		t.Fatalf("pong %q", p)
	}

	// A PingPongHandler with other callbacks is refused.
	_, err := websocket.Dial(ctx, url, &websocket.ClientConfig{PingPongHandler: websocket.Echo})
	if err == nil || err.Error() != "websocket: the callback service should be a PingPongService" {
		t.Fatalf("bad PingPongHandler: %v", err)
	}
}

// TestClientFragmentedAndLimits: a server's fragmented message is
// reassembled; an oversized frame fails the read with ErrPayloadTooLarge.
func TestClientFragmentedAndLimits(t *testing.T) {
	url := clServe(t, "/frag", websocket.Static(websocket.Echo), &websocket.ServiceConfig{FragmentSize: 3})
	ctx := testCtx(t)
	c := clDial(t, url, &websocket.ClientConfig{FragmentSize: 2})
	msg := "a chunked message"
	c.WriteTextMessage(ctx, []byte(msg))
	if s, err := c.ReadTextMessage(ctx); err != nil || string(s) != msg {
		t.Fatalf("%q %v", s, err)
	}
	// MaxFrameSize 4 against 5-byte frames.
	url2 := clServe(t, "/big", websocket.Static(websocket.Echo), &websocket.ServiceConfig{FragmentSize: 5})
	c2 := clDial(t, url2, &websocket.ClientConfig{MaxFrameSize: 4, FragmentSize: 1})
	c2.WriteTextMessage(ctx, []byte("hello"))
	_, _, err := c2.Read(ctx, nil)
	if !errors.Is(err, websocket.ErrPayloadTooLarge) || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("oversized frame: %v", err)
	}
	// MaxMessageSize.
	c3 := clDial(t, url, &websocket.ClientConfig{MaxMessageSize: 10})
	c3.WriteTextMessage(ctx, []byte(strings.Repeat("x", 11)))
	if _, _, err := c3.Read(ctx, nil); !errors.Is(err, websocket.ErrPayloadTooLarge) {
		t.Fatalf("oversized message: %v", err)
	}
}

// TestClientCompression: negotiated by default, and off on request.
func TestClientCompression(t *testing.T) {
	url := clEchoURL(t)
	ctx := testCtx(t)
	c := clDial(t, url, nil)
	if ext := c.HandshakeResponse().Header.Get("Sec-WebSocket-Extensions"); !strings.Contains(ext, "permessage-deflate") {
		t.Fatalf("compression not negotiated: %q", ext)
	}
	big := strings.Repeat("compress me ", 10000)
	c.WriteTextMessage(ctx, []byte(big))
	if s, err := c.ReadTextMessage(ctx); err != nil || string(s) != big {
		t.Fatalf("compressed round trip: %d %v", len(s), err)
	}
	c2 := clDial(t, url, &websocket.ClientConfig{Compression: websocket.CompressionConfig{Disable: true}})
	if ext := c2.HandshakeResponse().Header.Get("Sec-WebSocket-Extensions"); ext != "" {
		t.Fatalf("compression negotiated although disabled: %q", ext)
	}
	c2.WriteTextMessage(ctx, []byte(big))
	if s, err := c2.ReadTextMessage(ctx); err != nil || string(s) != big {
		t.Fatalf("plain round trip: %d %v", len(s), err)
	}
}

// TestClientConcurrentWrites: writers on many goroutines; every message
// arrives whole.
func TestClientConcurrentWrites(t *testing.T) {
	c := clDial(t, clEchoURL(t), nil)
	ctx := testCtx(t)
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := c.WriteTextMessage(ctx, []byte(strings.Repeat(strconv.Itoa(w), 100+i))); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	buf := make([]byte, 0, 1024)
	for i := 0; i < writers*each; i++ {
		_, out, err := c.Read(ctx, buf[:0])
		if err != nil {
			t.Fatal(err)
		}
		if strings.Trim(string(out), string(out[:1])) != "" {
			t.Fatalf("interleaved message %q", out)
		}
	}
	wg.Wait()
}

func TestClientWriteTimeout(t *testing.T) {
	// A raw server that completes the handshake and never reads.
	srv := clNewRawServer(t, func(rc *clRawConn) { <-rc.done })
	c := clDial(t, srv.url, &websocket.ClientConfig{WriteTimeout: 200 * time.Millisecond, Compression: websocket.CompressionConfig{Disable: true}})
	ctx := testCtx(t)
	big := make([]byte, 1<<20)
	var err error
	for i := 0; i < 200 && err == nil; i++ {
		err = c.WriteBinaryMessage(ctx, big)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write to a stalled server: %v", err)
	}
}

// TestClientReadTimeoutPartialMessage: a read that times out in the middle
// of a fragmented message loses nothing; the next read returns it whole.
func TestClientReadTimeoutPartialMessage(t *testing.T) {
	gate := make(chan struct{})
	srv := clNewRawServer(t, func(rc *clRawConn) {
		rc.writeFrame(false, 0, 1, []byte("first half, "), false)
		select {
		case <-gate:
		case <-rc.done:
			return
		}
		rc.writeFrame(true, 0, 0, []byte("second half"), false)
		rc.readClose()
	})
	c := clDial(t, srv.url, &websocket.ClientConfig{ReadTimeout: 100 * time.Millisecond, Compression: websocket.CompressionConfig{Disable: true}})
	ctx := testCtx(t)
	if _, _, err := c.Read(ctx, nil); !errors.Is(err, websocket.ErrReadTimedOut) {
		t.Fatalf("Read: %v", err)
	}
	close(gate)
	if s, err := c.ReadTextMessage(ctx); err != nil || string(s) != "first half, second half" {
		t.Fatalf("after timeout: %q %v", s, err)
	}
}

// TestDialHandshakeTimeoutResetAfterHandshake: HandshakeTimeout bounds
// only the handshake; the connection outlives it.
func TestDialHandshakeTimeoutResetAfterHandshake(t *testing.T) {
	gate := make(chan struct{})
	up := websocket.Static(&websocket.ServiceFuncs{
		OnOpen: func(c *websocket.Conn) error {
			go func() {
				<-gate
				c.WriteTextMessage(context.Background(), []byte("later"))
			}()
			return nil
		},
	})
	url := clServe(t, "/late", up, nil)
	c := clDial(t, url, &websocket.ClientConfig{HandshakeTimeout: 100 * time.Millisecond})
	timer := time.AfterFunc(300*time.Millisecond, func() { close(gate) })
	defer timer.Stop()
	if s, err := c.ReadTextMessage(testCtx(t)); err != nil || string(s) != "later" {
		t.Fatalf("read after the handshake timeout: %q %v", s, err)
	}
	if websocket.DefaultHandshakeTimeout != 300*time.Second {
		t.Fatalf("DefaultHandshakeTimeout %v", websocket.DefaultHandshakeTimeout)
	}
}

// TestClientCloseCutShortByCtx: a close whose wait ends with the caller's
// ctx (0.3 s, before ConnectionClosureTimeout's 60 s) says so, and does not
// claim a wait "within 60 seconds".
func TestClientCloseCutShortByCtx(t *testing.T) {
	srv := clNewRawServer(t, func(rc *clRawConn) { <-rc.done }) // never echoes
	c := clDial(t, srv.url, nil)
	ctx, cancel := context.WithTimeout(testCtx(t), 300*time.Millisecond)
	defer cancel()
	err := c.Close(ctx, 1000, "")
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, websocket.ErrConnectionClosure) ||
		strings.Contains(err.Error(), "60 seconds") || !strings.HasPrefix(err.Error(), "websocket: close handshake interrupted: ") {
		t.Fatalf("Close: %v", err)
	}
}
