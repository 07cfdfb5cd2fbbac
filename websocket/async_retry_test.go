package websocket_test

import (
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netkit-go/netkit/websocket"
)

// asyncRecorder is an AsyncClient Service reporting to channels.
type asyncRecorder struct {
	opens  chan string
	texts  chan string
	closes chan int
	errs   chan error
}

func newAsyncRecorder() *asyncRecorder {
	return &asyncRecorder{opens: make(chan string, 8), texts: make(chan string, 8), closes: make(chan int, 8), errs: make(chan error, 8)}
}

func (r *asyncRecorder) OnOpen(c *websocket.Conn) error { r.opens <- c.ID(); return nil }
func (r *asyncRecorder) OnTextMessage(c *websocket.Conn, text []byte) error {
	r.texts <- string(text)
	return nil
}
func (r *asyncRecorder) OnClose(c *websocket.Conn, code int, reason string) { r.closes <- code }
func (r *asyncRecorder) OnError(c *websocket.Conn, err error)               { r.errs <- err }

func asyncRetry(max int) *websocket.ClientConfig {
	return &websocket.ClientConfig{
		Compression: websocket.CompressionConfig{Disable: true},
		Retry:       &websocket.RetryConfig{MaxCount: max, Interval: 10 * time.Millisecond, MaxWaitInterval: 50 * time.Millisecond},
	}
}

// TestAsyncClientRetry: after the server drops the connection the
// AsyncClient redials and runs OnOpen again (no OnClose for the lost
// connection); the client's methods act on the new connection.
func TestAsyncClientRetry(t *testing.T) {
	var n atomic.Int32
	got := make(chan string, 1)
	srv := clNewRawServer(t, func(rc *clRawConn) {
		if n.Add(1) == 1 {
			clDropHard(rc)
			return
		}
		rc.writeFrame(true, 0, 1, []byte("Connected"), false)
		f, err := rc.readFrame()
		if err == nil {
			got <- string(f.payload)
		}
		rc.readClose()
	})
	r := newAsyncRecorder()
	ac, err := websocket.DialAsync(testCtx(t), srv.url, r, asyncRetry(3))
	if err != nil {
		t.Fatal(err)
	}
	first, second := recv(t, r.opens), recv(t, r.opens)
	if first == second {
		t.Fatal("OnOpen twice on the same connection")
	}
	if s := recv(t, r.texts); s != "Connected" {
		t.Fatalf("text %q", s)
	}
	if ac.Reconnects() != 1 || ac.ID() != second || !ac.IsOpen() {
		t.Fatalf("reconnects %d, id %s (want %s)", ac.Reconnects(), ac.ID(), second)
	}
	if err := ac.WriteTextMessage(testCtx(t), []byte("on the new one")); err != nil {
		t.Fatal(err)
	}
	if s := recv(t, got); s != "on the new one" {
		t.Fatalf("server got %q", s)
	}
	select {
	case code := <-r.closes:
		t.Fatalf("OnClose(%d) for the lost connection", code)
	case err := <-r.errs:
		t.Fatalf("OnError(%v) for the lost connection", err)
	default:
	}
	ac.Close(testCtx(t), 1000, "")
	<-ac.Done()
	recv(t, r.closes) // OnClose once, for the connection we closed
}

// TestAsyncClientRetryGivesUp: when every attempt fails, OnError gets an
// ErrConnection error, OnClose(1006), and Done is closed; a server's normal close
// is not retried.
func TestAsyncClientRetryGivesUp(t *testing.T) {
	gone := make(chan struct{})
	srv := clNewRawServer(t, func(rc *clRawConn) {
		<-gone
		clDropHard(rc)
	})
	r := newAsyncRecorder()
	ac, err := websocket.DialAsync(testCtx(t), srv.url, r, asyncRetry(2))
	if err != nil {
		t.Fatal(err)
	}
	recv(t, r.opens)
	srv.ln.Close() // the redials are refused
	close(gone)
	if err := recv(t, r.errs); !errors.Is(err, websocket.ErrConnection) || !errors.Is(err, net.ErrClosed) ||
		!strings.Contains(err.Error(), "after 2 attempts") {
		t.Fatalf("OnError %v", err)
	}
	if code := recv(t, r.closes); code != 1006 {
		t.Fatalf("OnClose %d", code)
	}
	<-ac.Done()

	srv2 := clNewRawServer(t, func(rc *clRawConn) {
		rc.writeFrame(true, 0, 8, clClosePayload(1000, "bye"), false)
		rc.readClose()
	})
	r = newAsyncRecorder()
	ac, err = websocket.DialAsync(testCtx(t), srv2.url, r, asyncRetry(2))
	if err != nil {
		t.Fatal(err)
	}
	if code := recv(t, r.closes); code != 1000 {
		t.Fatalf("OnClose %d", code)
	}
	<-ac.Done()
	if ac.Reconnects() != 0 || len(r.opens) != 1 {
		t.Fatalf("reconnected after a normal close: %d", ac.Reconnects())
	}
}
