package websocket_test

import (
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/obs/obstest"
	"github.com/netkit-go/netkit/websocket"
)

func clRetry(max int, hook func(*websocket.Client)) *websocket.ClientConfig {
	return &websocket.ClientConfig{
		Compression: websocket.CompressionConfig{Disable: true},
		Retry:       &websocket.RetryConfig{MaxCount: max, Interval: 10 * time.Millisecond, BackOffFactor: 2, MaxWaitInterval: 50 * time.Millisecond, OnReconnect: hook},
	}
}

// clDropHard closes the connection with a RST (no close frame, no FIN).
func clDropHard(rc *clRawConn) {
	if tc, ok := rc.nc.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	rc.nc.Close()
}

// TestRetryReconnectWhileReading: the server drops the connection while a
// read waits; the client reconnects and the read returns the new
// connection's message.
func TestRetryReconnectWhileReading(t *testing.T) {
	srv := clNewRawServer(t, clFirstThen(clDropHard))
	var hooks atomic.Int32
	c := clDial(t, srv.url, clRetry(3, func(*websocket.Client) { hooks.Add(1) }))
	first := c.ID()
	s, err := c.ReadTextMessage(testCtx(t))
	if err != nil || string(s) != "Connected" {
		t.Fatalf("read: %q %v", s, err)
	}
	if c.Reconnects() != 1 || hooks.Load() != 1 || c.ID() == first || !c.IsOpen() {
		t.Fatalf("reconnects %d, hooks %d, id %s -> %s", c.Reconnects(), hooks.Load(), first, c.ID())
	}
}

// TestRetryResendOnWrite: a write that fails because the server dropped
// the connection is sent again on the new connection (text and binary,
// whole and fragmented).
func TestRetryResendOnWrite(t *testing.T) {
	for _, tc := range []struct {
		name     string
		typ      websocket.MessageType
		fragment int
	}{{"text", websocket.TextMessage, 0}, {"binary", websocket.BinaryMessage, 0}, {"fragmented text", websocket.TextMessage, 4}, {"fragmented binary", websocket.BinaryMessage, 3}} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			var n atomic.Int32
			dropped := make(chan struct{})
			got := make(chan string, 1)
			srv := clNewRawServer(t, func(rc *clRawConn) {
				if n.Add(1) == 1 {
					clDropHard(rc)
					close(dropped)
					return
				}
				var msg []byte
				var op byte
				for i := 0; i < 100; i++ {
					f, err := rc.readFrame()
					if err != nil {
						return
					}
					if f.op != 0 {
						op = f.op
					}
					msg = append(msg, f.payload...)
					if f.fin {
						break
					}
				}
				got <- string([]byte{'0' + op}) + string(msg)
				rc.readClose()
			})
			cfg := clRetry(3, nil)
			cfg.FragmentSize = tc.fragment
			c := clDial(t, srv.url, cfg)
			<-dropped
			ctx := testCtx(t)
			// A write into a socket whose RST has not been processed yet may
			// still succeed (and be lost); the next one fails and is resent.
			for i := 0; i < 100 && c.Reconnects() == 0; i++ {
				if err := c.Write(ctx, tc.typ, []byte("resent message")); err != nil {
					t.Fatalf("write %d: %v", i, err)
				}
			}
			if c.Reconnects() != 1 {
				t.Fatalf("reconnects %d", c.Reconnects())
			}
			select {
			case s := <-got:
				if want := string([]byte{'0' + byte(tc.typ)}) + "resent message"; s != want {
					t.Fatalf("new server got %q, want %q", s, want)
				}
			case <-ctx.Done():
				t.Fatal("the failed write was not resent")
			}
		})
	}
}

// TestRetryGivesUp: when the server is gone, the read fails after MaxCount
// attempts with ErrConnection (Ballerina's "ConnectionError: IO Error").
func TestRetryGivesUp(t *testing.T) {
	var srv *clRawServer
	srv = clNewRawServer(t, func(rc *clRawConn) {
		srv.ln.Close() // no more connections
		clDropHard(rc)
	})
	c := clDial(t, srv.url, clRetry(2, nil))
	start := time.Now()
	_, _, err := c.Read(testCtx(t), nil)
	if !errors.Is(err, websocket.ErrConnection) || !errors.Is(err, net.ErrClosed) ||
		!strings.HasPrefix(err.Error(), "websocket: connection error: reconnection failed after 2 attempts: ") {
		t.Fatalf("read: %v", err)
	}
	// Waits: 10 ms then 20 ms (backoff factor 2).
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("gave up after %v", d)
	}
	if c.Reconnects() != 0 {
		t.Fatal("reconnected to nothing")
	}
}

// TestRetryNotAfterNormalClose: a close frame from the server ends the
// client for good.
func TestRetryNotAfterNormalClose(t *testing.T) {
	var n atomic.Int32
	srv := clNewRawServer(t, func(rc *clRawConn) {
		n.Add(1)
		rc.writeFrame(true, 0, 8, clClosePayload(1000, "done"), false)
		rc.readClose()
	})
	c := clDial(t, srv.url, clRetry(3, nil))
	ctx := testCtx(t)
	_, _, err := c.Read(ctx, nil)
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 1000 {
		t.Fatalf("read: %v", err)
	}
	if err := c.WriteTextMessage(ctx, []byte("x")); err == nil {
		t.Fatal("write after the server's close succeeded")
	}
	if c.Reconnects() != 0 || n.Load() != 1 {
		t.Fatalf("reconnected after a normal close: %d, %d connections", c.Reconnects(), n.Load())
	}
}

// TestRetryNotAfterLocalClose: Close ends the client; nothing redials.
func TestRetryNotAfterLocalClose(t *testing.T) {
	var n atomic.Int32
	srv := clNewRawServer(t, func(rc *clRawConn) {
		n.Add(1)
		if f, err := rc.readFrame(); err == nil && f.op == 8 {
			rc.writeFrame(true, 0, 8, f.payload, false)
		}
	})
	c, err := websocket.Dial(testCtx(t), srv.url, clRetry(3, nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(testCtx(t), 1000, ""); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteTextMessage(testCtx(t), []byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after Close: %v", err)
	}
	if c.Reconnects() != 0 || n.Load() != 1 {
		t.Fatalf("reconnected after Close")
	}
}

// TestRetryMetrics: a reconnection after a failed write counts the
// dropped connection closed and the new one opened, so the active count
// stays 1.
func TestRetryMetrics(t *testing.T) {
	var n atomic.Int32
	dropped := make(chan struct{})
	srv := clNewRawServer(t, func(rc *clRawConn) {
		if n.Add(1) == 1 {
			clDropHard(rc)
			close(dropped)
			return
		}
		rc.readClose()
	})
	m := obstest.NewMetrics(t)
	cfg := clRetry(3, nil)
	cfg.MeterProvider = m.Provider
	c := clDial(t, srv.url, cfg)
	<-dropped
	for i := 0; i < 100 && c.Reconnects() == 0; i++ { // see TestRetryResendOnWrite
		if err := c.WriteTextMessage(testCtx(t), []byte("resent")); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if c.Reconnects() != 1 {
		t.Fatalf("reconnects %d", c.Reconnects())
	}
	s := m.Collect(t)
	if opened, closed, active := s.Sum("netkit.connection.opened"), s.Sum("netkit.connection.closed"), s.Sum("netkit.active_connections"); opened != 2 || closed != 1 || active != 1 {
		t.Fatalf("opened %d closed %d active %d, want 2 1 1", opened, closed, active)
	}
}

// clFirstThen serves the first connection with first, and each later one
// with a "Connected" text, then awaits the client's close.
func clFirstThen(first func(*clRawConn)) func(*clRawConn) {
	var n atomic.Int32
	return func(rc *clRawConn) {
		if n.Add(1) == 1 {
			first(rc)
			return
		}
		rc.writeFrame(true, 0, 1, []byte("Connected"), false)
		rc.readClose()
	}
}

// clSilent reads frames and answers none, pings included: a peer that
// vanished behind a path that still accepts packets.
func clSilent(rc *clRawConn) {
	for {
		if _, err := rc.readFrame(); err != nil {
			return
		}
	}
}

// TestRetryAfterPongTimeout: a keepalive ping that gets no pong ends the
// connection with ErrPongTimeout, and Retry reconnects (it did not: the
// pong timeout matched os.ErrDeadlineExceeded and counted as the caller's
// own deadline).
func TestRetryAfterPongTimeout(t *testing.T) {
	srv := clNewRawServer(t, clFirstThen(clSilent))
	cfg := clRetry(3, nil)
	cfg.PingInterval, cfg.PongTimeout = 20*time.Millisecond, 20*time.Millisecond
	c := clDial(t, srv.url, cfg)
	s, err := c.ReadTextMessage(testCtx(t))
	if err != nil || string(s) != "Connected" {
		t.Fatalf("read: %q %v (reconnects %d)", s, err, c.Reconnects())
	}
	if c.Reconnects() != 1 {
		t.Fatalf("reconnects %d, want 1", c.Reconnects())
	}
}

// TestAsyncClientRetryAfterPongTimeout: the same for an AsyncClient: OnOpen
// again, no OnClose or OnError for the connection that went silent.
func TestAsyncClientRetryAfterPongTimeout(t *testing.T) {
	srv := clNewRawServer(t, clFirstThen(clSilent))
	cfg := asyncRetry(3)
	cfg.PingInterval, cfg.PongTimeout = 20*time.Millisecond, 20*time.Millisecond
	r := newAsyncRecorder()
	ac, err := websocket.DialAsync(testCtx(t), srv.url, r, cfg)
	if err != nil {
		t.Fatal(err)
	}
	recv(t, r.opens)
	select {
	case <-r.opens:
	case err := <-r.errs:
		t.Fatalf("OnError(%v), want a reconnect", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no reconnect within 10 s")
	}
	if s := recv(t, r.texts); s != "Connected" || ac.Reconnects() != 1 {
		t.Fatalf("text %q, reconnects %d", s, ac.Reconnects())
	}
	ac.Close(testCtx(t), 1000, "")
	<-ac.Done()
}
