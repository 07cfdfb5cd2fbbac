package websocket_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netkit-go/netkit/websocket"
)

// recorder is a Service whose callbacks report to channels.
type recorder struct {
	closes chan closeEvent
	errs   chan error
	texts  chan string
	caller chan *websocket.Conn
}

type closeEvent struct {
	code   int
	reason string
}

func newRecorder() *recorder {
	return &recorder{closes: make(chan closeEvent, 4), errs: make(chan error, 8), texts: make(chan string, 64), caller: make(chan *websocket.Conn, 1)}
}

func (r *recorder) funcs() *websocket.ServiceFuncs {
	return &websocket.ServiceFuncs{
		OnOpen:  func(c *websocket.Conn) error { r.caller <- c; return nil },
		OnClose: func(c *websocket.Conn, code int, reason string) { r.closes <- closeEvent{code, reason} },
		OnError: func(c *websocket.Conn, err error) { r.errs <- err },
	}
}

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for a callback")
	}
	var zero T
	return zero
}

func closeCodeOf(t *testing.T, ev event) (int, string) {
	t.Helper()
	if ev.op != opClose {
		t.Fatalf("got op %d (%q, %v), want a close frame", ev.op, ev.data, ev.readErr)
	}
	if len(ev.data) < 2 {
		return 1005, ""
	}
	return int(binary.BigEndian.Uint16(ev.data)), string(ev.data[2:])
}

// TestReturnedCloseFrames: every predefined close frame, and a custom one,
// returned from OnTextMessage or OnOpen closes with its code and reason.
func TestReturnedCloseFrames(t *testing.T) {
	frames := []*websocket.CloseError{websocket.NormalClosure, websocket.GoingAway, websocket.ProtocolError,
		websocket.UnsupportedData, websocket.InvalidPayload, websocket.PolicyViolation, websocket.MessageTooBig,
		websocket.InternalServerError, {Code: 4000, Reason: "custom"}}
	byReason := map[string]*websocket.CloseError{}
	for i, f := range frames {
		byReason[string(rune('a'+i))] = f
	}
	rec := newRecorder()
	svc := &websocket.ServiceFuncs{
		OnOpen: func(c *websocket.Conn) error {
			if f, ok := byReason["open-"+c.Attribute("q").(string)]; ok {
				return f
			}
			return nil
		},
		OnTextMessage: func(c *websocket.Conn, text []byte) error { return byReason[string(text)] },
		OnClose:       func(c *websocket.Conn, code int, reason string) { rec.closes <- closeEvent{code, reason} },
	}
	up := websocket.UpgradeFunc(func(r *http.Request, h http.Header) (websocket.Service, error) {
		return &websocket.ServiceFuncs{
			OnOpen: func(c *websocket.Conn) error {
				if q := r.URL.Query().Get("open"); q != "" {
					return byReason[q]
				}
				return nil
			},
			OnTextMessage: svc.OnTextMessage,
			OnClose:       svc.OnClose,
		}, nil
	})
	l := serve(t, "/ws", up, nil, nil)
	for i, f := range frames {
		key := string(rune('a' + i))
		for _, where := range []string{"message", "open"} {
			t.Run(where+"/"+f.Error(), func(t *testing.T) {
				path := "/ws"
				if where == "open" {
					path += "?open=" + key
				}
				c := dialWS(t, addrOf(l), path, nil)
				if where == "message" {
					c.sendText(key)
				}
				code, reason := closeCodeOf(t, c.next(5*time.Second))
				if code != f.Code || reason != f.Reason {
					t.Fatalf("close %d %q, want %d %q", code, reason, f.Code, f.Reason)
				}
				c.send(true, 0, opClose, closePayload(code, ""))
				if ev := c.next(5 * time.Second); ev.op != -1 {
					t.Fatalf("after the echo: op %d", ev.op)
				}
				if ce := recv(t, rec.closes); ce.code != f.Code {
					t.Fatalf("OnClose %v", ce)
				}
			})
		}
	}
	t.Run("invalid code closes TCP", func(t *testing.T) {
		byReason["bad"] = &websocket.CloseError{Code: 1005}
		c := dialWS(t, addrOf(l), "/ws", nil)
		c.sendText("bad")
		if ev := c.next(5 * time.Second); ev.op != -1 {
			t.Fatalf("got op %d, want the connection dropped", ev.op)
		}
		if ce := recv(t, rec.closes); ce.code != 1006 {
			t.Fatalf("OnClose %v", ce)
		}
	})
}

func TestCloseFromCallback(t *testing.T) {
	rec := newRecorder()
	open := make(chan bool, 1)
	closeErr := make(chan error, 1)
	svc := rec.funcs()
	svc.OnTextMessage = func(c *websocket.Conn, text []byte) error {
		err := c.Close(context.Background(), 4001, "done")
		open <- c.IsOpen()
		closeErr <- err
		if err := c.WriteTextMessage(context.Background(), []byte("late")); err == nil || !strings.Contains(err.Error(), "Cannot push text data!") {
			t.Errorf("write after close: %v", err)
		}
		if err := c.WriteBinaryMessage(context.Background(), []byte("late")); err == nil || !strings.Contains(err.Error(), "Cannot push binary data.") {
			t.Errorf("write after close: %v", err)
		}
		if err := c.Close(context.Background(), 1000, ""); err == nil || !strings.Contains(err.Error(), "Cannot send close frame again.") {
			t.Errorf("second close: %v", err)
		}
		return nil
	}
	l := serve(t, "/ws", upgradeWith(svc), nil, nil)
	c := dialWS(t, addrOf(l), "/ws", nil)
	recv(t, rec.caller)
	c.sendText("close please")
	code, reason := closeCodeOf(t, c.next(5*time.Second))
	if code != 4001 || reason != "done" {
		t.Fatalf("close %d %q", code, reason)
	}
	if recv(t, open) {
		t.Fatal("IsOpen true after Close inside the callback")
	}
	if err := recv(t, closeErr); err != nil {
		t.Fatalf("Close inside callback: %v", err)
	}
	c.send(true, 0, opClose, closePayload(4001, "done"))
	if ev := c.next(5 * time.Second); ev.op != -1 {
		t.Fatalf("after echo: op %d", ev.op)
	}
	if ce := recv(t, rec.closes); ce.code != 4001 {
		t.Fatalf("OnClose %v", ce)
	}
}

func TestCloseFromOtherGoroutine(t *testing.T) {
	rec := newRecorder()
	l := serve(t, "/ws", upgradeWith(rec.funcs()), &websocket.ServiceConfig{ConnectionClosureTimeout: 300 * time.Millisecond}, nil)
	ctx := testCtx(t)
	run := func(t *testing.T, peer func(c *rawClient), check func(err error)) {
		c := dialWS(t, addrOf(l), "/ws", nil)
		caller := recv(t, rec.caller)
		done := make(chan error, 1)
		go func() { done <- caller.Close(ctx, 1001, "bye") }()
		code, _ := closeCodeOf(t, c.next(5*time.Second))
		if code != 1001 {
			t.Fatalf("close %d", code)
		}
		peer(c)
		check(recv(t, done))
		for i := 0; i < 10 && c.next(5*time.Second).op != -1; i++ {
		}
		recv(t, rec.closes)
	}
	t.Run("echo", func(t *testing.T) {
		run(t, func(c *rawClient) { c.send(true, 0, opClose, closePayload(1001, "")) }, func(err error) {
			if err != nil {
				t.Fatal(err)
			}
		})
	})
	t.Run("other code", func(t *testing.T) {
		run(t, func(c *rawClient) { c.send(true, 0, opClose, closePayload(1000, "")) }, func(err error) {
			if err == nil || !strings.Contains(err.Error(), "Expected status code 1001 but found 1000") {
				t.Fatal(err)
			}
		})
	})
	t.Run("dropped", func(t *testing.T) {
		run(t, func(c *rawClient) { c.nc.Close() }, func(err error) {
			if err == nil || !strings.Contains(err.Error(), "without echoing a close frame") || !errors.Is(err, net.ErrClosed) {
				t.Fatal(err)
			}
		})
	})
	t.Run("timeout", func(t *testing.T) {
		run(t, func(c *rawClient) {}, func(err error) {
			var cce interface{ Timeout() bool }
			if !errors.Is(err, websocket.ErrConnectionClosure) || !errors.As(err, &cce) || !cce.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) || !strings.Contains(err.Error(), "within 0.3 seconds") {
				t.Fatal(err)
			}
		})
	})
	t.Run("invalid codes", func(t *testing.T) {
		c := dialWS(t, addrOf(l), "/ws", nil)
		caller := recv(t, rec.caller)
		for _, code := range []int{20, 999, 1004, 1005, 1006, 1012, 2999, 5000} {
			err := caller.Close(ctx, code, "")
			if err == nil || err.Error() != "Failed to execute close. Invalid status code: "+itoa(code) {
				t.Fatalf("code %d: %v", code, err)
			}
		}
		if !caller.IsOpen() {
			t.Fatal("invalid close closed the connection")
		}
		c.nc.Close()
		if ce := recv(t, rec.closes); ce.code != 1006 || ce.reason != "" {
			t.Fatalf("OnClose after drop: %v", ce)
		}
	})
}

func itoa(i int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + string(appendInt(nil, i))) }

func appendInt(b []byte, i int) []byte {
	if i >= 10 {
		b = appendInt(b, i/10)
	}
	return append(b, byte('0'+i%10))
}

func TestRemoteClose(t *testing.T) {
	rec := newRecorder()
	order := make(chan string, 4)
	svc := rec.funcs()
	svc.OnClose = func(c *websocket.Conn, code int, reason string) {
		order <- "onclose"
		rec.closes <- closeEvent{code, reason}
	}
	l := serve(t, "/ws", upgradeWith(svc), nil, nil)
	for _, tc := range []struct {
		payload []byte
		code    int
		reason  string
	}{
		{closePayload(1001, "going"), 1001, "going"},
		{closePayload(1000, ""), 1000, ""},
		{nil, 1005, ""},
	} {
		c := dialWS(t, addrOf(l), "/ws", nil)
		recv(t, rec.caller)
		c.send(true, 0, opClose, tc.payload)
		ce := recv(t, rec.closes)
		if ce.code != tc.code || ce.reason != tc.reason {
			t.Fatalf("OnClose %v, want %d %q", ce, tc.code, tc.reason)
		}
		want := tc.code
		if want == 1005 {
			want = 0
		}
		c.expectClose(want)
		recv(t, order)
	}
	// TCP drop: OnClose(1006, "").
	c := dialWS(t, addrOf(l), "/ws", nil)
	recv(t, rec.caller)
	c.nc.Close()
	if ce := recv(t, rec.closes); ce.code != 1006 || ce.reason != "" {
		t.Fatalf("OnClose %v", ce)
	}
	select {
	case err := <-rec.errs:
		t.Fatalf("OnError for a clean drop: %v", err)
	default:
	}
}

func TestErrorsAndPanics(t *testing.T) {
	rec := newRecorder()
	svc := rec.funcs()
	svc.OnTextMessage = func(c *websocket.Conn, text []byte) error {
		switch string(text) {
		case "error":
			return errors.New("handler failed")
		case "panic":
			panic("handler panic")
		}
		return c.WriteTextMessage(c.Context(), text)
	}
	l := serve(t, "/ws", upgradeWith(svc), nil, nil)

	t.Run("returned error keeps the connection", func(t *testing.T) {
		c := dialWS(t, addrOf(l), "/ws", nil)
		caller := recv(t, rec.caller)
		c.sendText("error")
		if err := recv(t, rec.errs); err.Error() != "handler failed" || !caller.IsOpen() {
			t.Fatalf("OnError %v, open %v", err, caller.IsOpen())
		}
		c.sendText("still here")
		c.expectMessage(opText, []byte("still here"))
		c.nc.Close()
		recv(t, rec.closes)
	})
	t.Run("panic closes with 1011", func(t *testing.T) {
		c := dialWS(t, addrOf(l), "/ws", nil)
		recv(t, rec.caller)
		c.sendText("panic")
		c.expectClose(1011)
		err := recv(t, rec.errs)
		var pe *websocket.PanicError
		if !errors.As(err, &pe) || pe.Value != "handler panic" {
			t.Fatalf("OnError %v", err)
		}
		if ce := recv(t, rec.closes); ce.code != 1011 {
			t.Fatalf("OnClose %v", ce)
		}
	})
	t.Run("protocol error then OnError after closure", func(t *testing.T) {
		c := dialWS(t, addrOf(l), "/ws", nil)
		recv(t, rec.caller)
		c.send(true, rsv2, opText, []byte("x"))
		c.expectClose(1002)
		err := recv(t, rec.errs)
		if !errors.Is(err, websocket.ErrCorruptedFrame) || !strings.HasSuffix(err.Error(), "(close 1002)") || !errors.Is(err, net.ErrClosed) {
			t.Fatalf("OnError %v", err)
		}
		if ce := recv(t, rec.closes); ce.code != 1002 {
			t.Fatalf("OnClose %v", ce)
		}
	})
	t.Run("invalid UTF-8 gives 1007", func(t *testing.T) {
		c := dialWS(t, addrOf(l), "/ws", nil)
		recv(t, rec.caller)
		c.send(true, 0, opText, []byte{0xff})
		c.expectClose(1007)
		if err := recv(t, rec.errs); !errors.Is(err, websocket.ErrCorruptedFrame) || !strings.HasSuffix(err.Error(), "(close 1007)") {
			t.Fatalf("OnError %v", err)
		}
		recv(t, rec.closes)
	})
}

func TestFrameLimitsAndFragmentation(t *testing.T) {
	rec := newRecorder()
	frames := make(chan int, 1)
	svc := rec.funcs()
	svc.OnTextMessage = func(c *websocket.Conn, text []byte) error { return c.WriteTextMessage(c.Context(), text) }
	svc.OnBinaryMessage = func(c *websocket.Conn, data []byte) error { return c.WriteBinaryMessage(c.Context(), data) }
	l := serve(t, "/ws", upgradeWith(svc), &websocket.ServiceConfig{MaxFrameSize: 4, FragmentSize: 4}, nil)
	c := dialWS(t, addrOf(l), "/ws", nil)
	recv(t, rec.caller)
	// Chunked input within the frame limit is reassembled.
	c.send(false, 0, opText, []byte("chun"))
	c.send(false, 0, opCont, []byte("ked "))
	c.send(true, 0, opCont, []byte("text"))
	ev := c.expectMessage(opText, []byte("chunked text"))
	frames <- ev.frames
	if n := <-frames; n != 3 {
		t.Fatalf("echo came in %d frames, want 3 (FragmentSize 4)", n)
	}
	c.send(false, 0, opBinary, []byte{1, 2, 3, 4})
	c.send(true, 0, opCont, []byte{5})
	c.expectMessage(opBinary, []byte{1, 2, 3, 4, 5})
	// A frame over MaxFrameSize: 1009, then ErrPayloadTooLarge.
	c.send(true, 0, opText, []byte("12345"))
	c.expectClose(1009)
	if err := recv(t, rec.errs); !errors.Is(err, websocket.ErrPayloadTooLarge) || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("OnError %v", err)
	}
	recv(t, rec.closes)
}

func TestSequentialDispatch(t *testing.T) {
	var running, maxRunning atomic.Int32
	got := make(chan string, 100)
	svc := &websocket.ServiceFuncs{OnTextMessage: func(c *websocket.Conn, text []byte) error {
		if n := running.Add(1); n > maxRunning.Load() {
			maxRunning.Store(n)
		}
		time.Sleep(time.Millisecond) // widen the window a concurrent dispatch would need
		got <- string(text)
		running.Add(-1)
		return nil
	}}
	l := serve(t, "/ws", upgradeWith(svc), nil, nil)
	c := dialWS(t, addrOf(l), "/ws", nil)
	var b []byte
	for i := 0; i < 20; i++ {
		b = append(b, frame(true, 0, opText, []byte{byte('a' + i)})...)
	}
	c.write(b)
	for i := 0; i < 20; i++ {
		if s := recv(t, got); s != string(rune('a'+i)) {
			t.Fatalf("message %d: %q", i, s)
		}
	}
	if maxRunning.Load() != 1 {
		t.Fatalf("%d callbacks ran at once", maxRunning.Load())
	}
}

func TestPingPongHooks(t *testing.T) {
	pongs := make(chan string, 1)
	svc := &websocket.ServiceFuncs{
		OnPing: func(c *websocket.Conn, data []byte) error {
			return c.Pong(c.Context(), append([]byte("re:"), data...))
		},
		OnPong: func(c *websocket.Conn, data []byte) error { pongs <- string(data); return nil },
	}
	l := serve(t, "/ws", upgradeWith(svc), nil, nil)
	c := dialWS(t, addrOf(l), "/ws", nil)
	c.send(true, 0, opPing, []byte("x"))
	c.expectMessage(opPong, []byte("re:x"))
	c.send(true, 0, opPong, []byte("p"))
	if p := recv(t, pongs); p != "p" {
		t.Fatalf("OnPong %q", p)
	}
}

func TestWriteMessageJSONAndAttributes(t *testing.T) {
	ids := make(chan string, 4)
	svc := &websocket.ServiceFuncs{
		OnOpen: func(c *websocket.Conn) error {
			c.SetAttribute("n", 1)
			ids <- c.ID()
			return nil
		},
		OnTextMessage: func(c *websocket.Conn, text []byte) error {
			n := c.Attribute("n").(int)
			c.SetAttribute("n", n+1)
			ids <- c.ID()
			if n == 2 {
				c.SetAttribute("n", nil)
				return c.WriteMessage(c.Context(), c.Attribute("n") == nil)
			}
			return c.WriteMessage(c.Context(), map[string]any{"n": n, "text": string(text), "q": `say "hi"`})
		},
	}
	l := serve(t, "/ws", upgradeWith(svc), nil, nil)
	c := dialWS(t, addrOf(l), "/ws", nil)
	c.sendText("x")
	c.expectMessage(opText, []byte(`{"n":1,"q":"say \"hi\"","text":"x"}`))
	c.sendText("y")
	c.expectMessage(opText, []byte(`true`))
	a, b, d := <-ids, <-ids, <-ids
	if a != b || b != d || a == "" {
		t.Fatalf("IDs %q %q %q", a, b, d)
	}
}

// OnIdleTimeout fires only after IdleTimeout without activity: activity
// resets it, and it repeats while the connection stays quiet. The service
// itself measures each timeout against the last thing it saw (the open, a
// message, the previous timeout), so a loaded machine that stretches the
// client's pacing can delay a timeout but never make one look early.
func TestIdleTimeout(t *testing.T) {
	const timeout = 100 * time.Millisecond
	var (
		mu       sync.Mutex
		last     time.Time // the open, the last message or the last timeout
		early    []time.Duration
		fires    int
		quietAt  int // fires when the client went quiet, -1 before
		overflow bool
	)
	quietAt = -1
	closed := make(chan struct{})
	svc := &websocket.ServiceFuncs{
		OnOpen: func(c *websocket.Conn) error {
			mu.Lock()
			last = time.Now()
			mu.Unlock()
			return nil
		},
		OnIdleTimeout: func(c *websocket.Conn) error {
			mu.Lock()
			defer mu.Unlock()
			now := time.Now()
			if d := now.Sub(last); d < timeout {
				early = append(early, d)
			}
			last = now
			fires++
			if fires > 50 {
				overflow = true
				return websocket.NormalClosure
			}
			if quietAt >= 0 && fires-quietAt == 3 {
				return websocket.NormalClosure
			}
			return nil
		},
		OnTextMessage: func(c *websocket.Conn, text []byte) error {
			mu.Lock()
			last = time.Now()
			mu.Unlock()
			return c.WriteTextMessage(c.Context(), text)
		},
		OnClose: func(c *websocket.Conn, code int, reason string) { close(closed) },
	}
	l := serve(t, "/ws", upgradeWith(svc), &websocket.ServiceConfig{IdleTimeout: timeout}, nil)
	c := dialWS(t, addrOf(l), "/ws", nil)
	// Activity over more than one timeout, spaced under it: each message
	// resets the timeout (without the reset it would fire 100 ms after the
	// open, under 100 ms after a message).
	for i := 0; i < 5; i++ {
		c.sendText("busy")
		c.expectMessage(opText, []byte("busy"))
		time.Sleep(timeout / 3) // pacing, not synchronisation
	}
	mu.Lock()
	quietAt = fires
	mu.Unlock()
	c.expectClose(1000) // the third timeout after going quiet closes it
	recv(t, closed)
	mu.Lock()
	defer mu.Unlock()
	if len(early) > 0 || overflow {
		t.Fatalf("timeouts under %v after activity: %v (overflow %v)", timeout, early, overflow)
	}
}

func TestKeepalive(t *testing.T) {
	rec := newRecorder()
	// Answered pings get a pong timeout well above a loaded machine's delays
	// (the pongs come back in microseconds), and the test answers pings for
	// longer than it, so a server that ignored the pongs would close;
	// unanswered ones get a short one.
	answered := serve(t, "/ws", upgradeWith(rec.funcs()), &websocket.ServiceConfig{PingInterval: 50 * time.Millisecond, PongTimeout: 400 * time.Millisecond}, nil)
	l := serve(t, "/ws", upgradeWith(rec.funcs()), &websocket.ServiceConfig{PingInterval: 50 * time.Millisecond, PongTimeout: 100 * time.Millisecond}, nil)
	t.Run("answered", func(t *testing.T) {
		c := dialWS(t, addrOf(answered), "/ws", nil)
		caller := recv(t, rec.caller)
		for i := 0; i < 12; i++ { // 12 pings: 600 ms, past the pong timeout
			ev := c.next(5 * time.Second)
			if ev.op != opPing {
				t.Fatalf("got op %d (ping %d): %v", ev.op, i, ev.readErr)
			}
			c.send(true, 0, opPong, ev.data)
		}
		if !caller.IsOpen() {
			t.Fatal("closed although pongs came")
		}
		c.nc.Close()
		recv(t, rec.closes)
	})
	t.Run("unanswered", func(t *testing.T) {
		c := dialWS(t, addrOf(l), "/ws", nil)
		recv(t, rec.caller)
		if ev := c.next(5 * time.Second); ev.op != opPing {
			t.Fatalf("got op %d", ev.op)
		}
		if ev := c.next(5 * time.Second); ev.op != -1 {
			t.Fatalf("got op %d, want the connection dropped", ev.op)
		}
		if err := recv(t, rec.errs); !errors.Is(err, websocket.ErrPongTimeout) || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("OnError %v", err)
		}
		if ce := recv(t, rec.closes); ce.code != 1006 {
			t.Fatalf("OnClose %v", ce)
		}
	})
}

func TestLifecycle(t *testing.T) {
	rec := newRecorder()
	svc := rec.funcs()
	svc.OnTextMessage = func(c *websocket.Conn, text []byte) error { return c.WriteTextMessage(c.Context(), text) }
	l, err := websocket.NewListener(0, &websocket.ListenerConfig{Host: "127.0.0.1", Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Detach("/ws"); err == nil || !strings.Contains(err.Error(), "websocket: cannot detach service: no service is registered at /ws") {
		t.Fatalf("detach unregistered: %v", err)
	}
	if err := l.GracefulStop(context.Background()); !errors.Is(err, websocket.ErrNotStarted) {
		t.Fatalf("stop before start: %v", err)
	}
	if err := l.Attach("/ws", upgradeWith(svc), nil); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	defer l.ImmediateStop()
	if err := l.Start(); !errors.Is(err, websocket.ErrAlreadyStarted) {
		t.Fatalf("second start: %v", err)
	}
	addr := addrOf(l)
	c := dialWS(t, addr, "/ws", nil)
	recv(t, rec.caller)
	c.sendText("one")
	c.expectMessage(opText, []byte("one"))
	if err := l.Detach("/ws"); err != nil {
		t.Fatal(err)
	}
	if d := dialRaw(t, addr, "/ws", nil); d.resp.StatusCode != 404 {
		t.Fatalf("after detach: %d", d.resp.StatusCode)
	}
	c.sendText("still")
	c.expectMessage(opText, []byte("still"))

	// GracefulStop: close 1001, the echo is awaited.
	stopped := make(chan error, 1)
	go func() { stopped <- l.GracefulStop(testCtx(t)) }()
	code, _ := closeCodeOf(t, c.next(5*time.Second))
	if code != 1001 {
		t.Fatalf("close %d, want 1001", code)
	}
	c.send(true, 0, opClose, closePayload(1001, ""))
	if ev := c.next(5 * time.Second); ev.op != -1 {
		t.Fatalf("after the echo: op %d", ev.op)
	}
	if err := recv(t, stopped); err != nil {
		t.Fatal(err)
	}
	if ce := recv(t, rec.closes); ce.code != 1001 {
		t.Fatalf("OnClose %v", ce)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("dial after stop succeeded")
	}

	// Restart, then ImmediateStop drops connections.
	if err := l.Attach("/ws", upgradeWith(svc), nil); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	c2 := dialWS(t, addrOf(l), "/ws", nil)
	recv(t, rec.caller)
	if err := l.ImmediateStop(); err != nil {
		t.Fatal(err)
	}
	if ev := c2.next(5 * time.Second); ev.op != -1 {
		t.Fatalf("after ImmediateStop: op %d", ev.op)
	}
	if ce := recv(t, rec.closes); ce.code != 1006 {
		t.Fatalf("OnClose %v", ce)
	}
}

func TestGracefulStopTimesOut(t *testing.T) {
	l := serveEcho(t, nil)
	c := dialWS(t, addrOf(l), "/ws", nil)
	c.sendText("x")
	c.expectMessage(opText, []byte("x"))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	// The client never echoes: the stop ends with ctx's error and drops it.
	if err := l.GracefulStop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("GracefulStop: %v", err)
	}
	if code, _ := closeCodeOf(t, c.next(5*time.Second)); code != 1001 {
		t.Fatalf("close %d", code)
	}
	if ev := c.next(5 * time.Second); ev.op != -1 {
		t.Fatalf("op %d", ev.op)
	}
}

func TestHandlerOnAMux(t *testing.T) {
	h := websocket.NewHandler(websocket.Static(websocket.Echo), &websocket.ServiceConfig{Logger: quietLogger})
	mux := http.NewServeMux()
	mux.Handle("/ws", h)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: mux}
	done := make(chan struct{})
	go func() { hs.Serve(ln); close(done) }()
	defer func() { hs.Close(); <-done }()
	c := dialWS(t, ln.Addr().String(), "/ws", nil)
	c.sendBinary([]byte{1, 2, 3})
	c.expectMessage(opBinary, []byte{1, 2, 3})
	if h.Len() != 1 {
		t.Fatalf("Len %d", h.Len())
	}
	stopped := make(chan error, 1)
	go func() { stopped <- h.GracefulStop(testCtx(t)) }()
	c.expectClose(1001)
	if err := recv(t, stopped); err != nil {
		t.Fatal(err)
	}
	if d := dialRaw(t, ln.Addr().String(), "/ws", nil); d.resp.StatusCode != 503 {
		t.Fatalf("after stop: %d", d.resp.StatusCode)
	}
}

func TestAcceptPull(t *testing.T) {
	conns := make(chan *websocket.Conn, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		conns <- c
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() { hs.Serve(ln); close(done) }()
	defer func() { hs.Close(); <-done }()
	c := dialWS(t, ln.Addr().String(), "/", nil)
	// Frames sent at once with the request are not lost.
	conn := recv(t, conns)
	ctx := testCtx(t)
	c.sendText("hello")
	c.send(false, 0, opBinary, []byte("frag"))
	c.send(true, 0, opPing, []byte("p"))
	c.send(true, 0, opCont, []byte("ment"))
	buf := make([]byte, 0, 64)
	typ, msg, err := conn.Read(ctx, buf)
	if err != nil || typ != websocket.TextMessage || string(msg) != "hello" {
		t.Fatalf("Read: %v %q %v", typ, msg, err)
	}
	typ, msg, err = conn.Read(ctx, msg[:0])
	if err != nil || typ != websocket.BinaryMessage || string(msg) != "fragment" {
		t.Fatalf("Read: %v %q %v", typ, msg, err)
	}
	c.expectMessage(opPong, []byte("p"))
	// A read timeout consumes nothing; the next read works.
	c.send(false, 0, opText, []byte("par"))
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, _, err = conn.Read(short, nil)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timed-out Read: %v", err)
	}
	c.send(true, 0, opCont, []byte("tial"))
	if _, msg, err = conn.Read(ctx, nil); err != nil || string(msg) != "partial" {
		t.Fatalf("Read after timeout: %q %v", msg, err)
	}
	if err := conn.WriteTextMessage(ctx, []byte("from server")); err != nil {
		t.Fatal(err)
	}
	c.expectMessage(opText, []byte("from server"))
	// Close from the server: the echo is read by Close itself.
	go func() {
		ev := c.next(5 * time.Second)
		if ev.op == opClose {
			c.send(true, 0, opClose, ev.data)
		}
	}()
	if err := conn.Close(ctx, 1000, "bye"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	var ce *websocket.CloseError
	if _, _, err := conn.Read(ctx, nil); !errors.As(err, &ce) || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read after close: %v", err)
	}
}

func TestAcceptPeerClose(t *testing.T) {
	conns := make(chan *websocket.Conn, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := websocket.Accept(w, r, nil); err == nil {
			conns <- c
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() { hs.Serve(ln); close(done) }()
	defer func() { hs.Close(); <-done }()
	c := dialWS(t, ln.Addr().String(), "/", nil)
	conn := recv(t, conns)
	c.send(true, 0, opClose, closePayload(4002, "client bye"))
	_, _, err = conn.Read(testCtx(t), nil)
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4002 || ce.Reason != "client bye" || err.Error() != "client bye: Status code: 4002" {
		t.Fatalf("Read: %v", err)
	}
	c.expectClose(4002)
	if !bytes.Equal(nil, nil) {
		t.Fatal()
	}
}

// TestStopFromCallback: GracefulStop called inside a callback does not wait
// for that callback's own connection.
func TestStopFromCallback(t *testing.T) {
	var l *websocket.Listener
	stopped := make(chan error, 1)
	svc := &websocket.ServiceFuncs{OnTextMessage: func(c *websocket.Conn, text []byte) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stopped <- l.GracefulStop(ctx)
		return nil
	}}
	l = serve(t, "/ws", upgradeWith(svc), nil, nil)
	c := dialWS(t, addrOf(l), "/ws", nil)
	c.sendText("stop")
	if err := recv(t, stopped); err != nil {
		t.Fatal(err)
	}
	c.expectClose(1001)
}
