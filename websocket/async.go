package websocket

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netkit-go/netkit/internal/engine"
	"github.com/netkit-go/netkit/internal/wsproto"
)

// AsyncClient is a WebSocket client served by a [Service] (Ballerina's
// AsyncClient with its callback service): the connection's read loop calls
// the Service's OnOpen, OnTextMessage, OnBinaryMessage, OnPing, OnPong,
// OnIdleTimeout, OnClose and OnError exactly as a server connection's,
// through the same dispatcher. It embeds the [Conn] of its first
// connection: writes, Ping, Pong, Close and the getters work as on a
// [Client]; Read returns ErrCallbackMode.
//
// With ClientConfig.Retry, an abnormal closure (the TCP connection dropped
// without a close frame, an I/O error, or no pong within PongTimeout)
// redials with the RetryConfig's
// backoff and runs OnOpen again on the new connection; OnClose and
// OnError are not called for the lost connection. When every attempt
// failed, OnError gets an [ErrConnection] error and OnClose(1006, "").
// Then use the AsyncClient's own methods (Write..., Ping, Pong, Close, IsOpen, ID),
// which act on the current connection, not the embedded Conn; callbacks
// get the current Conn as always. RetryConfig.OnReconnect does not apply
// (OnOpen runs instead).
type AsyncClient struct {
	*Conn

	d          *dialer
	h          *hooks
	mu         sync.RWMutex // guards cur and resp
	cur        *Conn
	resp       *http.Response
	closed     atomic.Bool // Close was called
	stop       context.Context
	stopNow    context.CancelFunc // ends a reconnection in progress (Close)
	done       chan struct{}      // closed when the last connection's loop ended
	reconnects atomic.Int64
}

// DialAsync connects to url like [Dial] and serves the connection with s
// (see [Service]; a malformed callback fails DialAsync). OnOpen runs on the
// connection's goroutine right after the handshake, possibly before
// DialAsync returns. The connection lives until closed by either side (and,
// with Retry, redialed after an abnormal closure); Done reports when its
// loop ended (after OnClose).
func DialAsync(ctx context.Context, url string, s Service, cfg *ClientConfig) (*AsyncClient, error) {
	h, err := resolvePlain(s)
	if err != nil {
		return nil, err
	}
	d, err := newDialer(url, cfg)
	if err != nil {
		return nil, err
	}
	hs, err := d.dial(ctx)
	if err != nil {
		return nil, err
	}
	ac := &AsyncClient{d: d, h: &h, resp: hs.resp, done: make(chan struct{})}
	ac.stop, ac.stopNow = context.WithCancel(context.Background())
	ac.Conn = ac.start(hs)
	return ac, nil
}

// start serves the connection of handshake hs.
func (ac *AsyncClient) start(hs *handshake) *Conn {
	c := ac.d.newConn(hs)
	ac.mu.Lock()
	ac.cur, ac.resp = c, hs.resp
	ac.mu.Unlock()
	c.ec.Start(&asyncFace{newSession(c, ac.h, nil), ac})
	return c
}

// current returns the current connection.
func (ac *AsyncClient) current() *Conn {
	ac.mu.RLock()
	defer ac.mu.RUnlock()
	return ac.cur
}

// HandshakeResponse returns the server's 101 response (200 over HTTP/2) of
// the current connection. Its Body is empty.
func (ac *AsyncClient) HandshakeResponse() *http.Response {
	ac.mu.RLock()
	defer ac.mu.RUnlock()
	return ac.resp
}

// Done returns a channel closed when the connection's loop has ended
// (OnClose has run) and no reconnection follows.
func (ac *AsyncClient) Done() <-chan struct{} { return ac.done }

// HTTPVersion returns the HTTP version of the current connection's opening
// handshake, as [Client.HTTPVersion].
func (ac *AsyncClient) HTTPVersion() string { return ac.current().HTTPVersion() }

// Reconnects returns how many times Retry reconnected the client.
func (ac *AsyncClient) Reconnects() int { return int(ac.reconnects.Load()) }

// Write sends p as one message on the current connection (see
// [Conn.Write]).
func (ac *AsyncClient) Write(ctx context.Context, typ MessageType, p []byte) error {
	return ac.current().Write(ctx, typ, p)
}

// WriteTextMessage sends text on the current connection.
func (ac *AsyncClient) WriteTextMessage(ctx context.Context, text []byte) error {
	return ac.current().WriteTextMessage(ctx, text)
}

// WriteBinaryMessage sends data on the current connection.
func (ac *AsyncClient) WriteBinaryMessage(ctx context.Context, data []byte) error {
	return ac.current().WriteBinaryMessage(ctx, data)
}

// WriteMessage sends v on the current connection (see [Conn.WriteMessage]).
func (ac *AsyncClient) WriteMessage(ctx context.Context, v any) error {
	return ac.current().WriteMessage(ctx, v)
}

// Ping sends a ping on the current connection.
func (ac *AsyncClient) Ping(ctx context.Context, data []byte) error {
	return ac.current().Ping(ctx, data)
}

// Pong sends a pong on the current connection.
func (ac *AsyncClient) Pong(ctx context.Context, data []byte) error {
	return ac.current().Pong(ctx, data)
}

// Close runs the close handshake on the current connection (see
// [Conn.Close]); no reconnection follows.
func (ac *AsyncClient) Close(ctx context.Context, code int, reason string) error {
	if validLocalCloseCode(code) {
		ac.closed.Store(true)
		ac.stopNow()
	}
	return ac.current().Close(ctx, code, reason)
}

// IsOpen reports whether the current connection is open.
func (ac *AsyncClient) IsOpen() bool { return ac.current().IsOpen() }

// ID returns the current connection's id.
func (ac *AsyncClient) ID() string { return ac.current().ID() }

// asyncFace is the dispatcher's session with an Open that does not set the
// Conn's engine connection (already set before the loop started, so that
// the caller of DialAsync may write at once without a data race), and a
// Closed that reconnects under Retry.
type asyncFace struct {
	*session
	ac *AsyncClient
}

// Open runs OnOpen; the rest is session.Open's.
func (f *asyncFace) Open(ec *engine.Conn) error {
	s := f.session
	s.lastRx = mono()
	if s.h.open != nil {
		if err := s.result(s.invoke(kindOpen, nil)); err != nil {
			s.fail0(err)
		}
	}
	return nil
}

// Closed reconnects after an abnormal closure under Retry; otherwise it
// reports the end as session.Closed does.
func (f *asyncFace) Closed(ec *engine.Conn, err error) {
	s, ac := f.session, f.ac
	if ac.d.cfg.Retry != nil && f.abnormal(err) {
		s.conn.ended()
		s.release(ec)
		// On this connection's engine goroutine, not a goroutine of its
		// own: the wait is bounded by the backoff, MaxCount and Close, and
		// the goroutine ends once the next connection's loop has started.
		ac.redial(f, err)
		return
	}
	s.Closed(ec, err)
	ac.stopNow()
	close(ac.done)
}

// abnormal reports whether the connection ended without a close handshake
// and without a local close or failure: a reason to reconnect.
func (f *asyncFace) abnormal(err error) bool {
	s, c := f.session, f.session.conn
	if f.ac.closed.Load() || s.failed != nil || c.sent.Load() || s.reported {
		return false
	}
	if code, _, ok := c.received(); ok && code != wsproto.CloseAbnormalClosure {
		return false
	}
	return err == nil || errors.Is(err, io.EOF) || retryable(err)
}

// redial reconnects after old ended with cause, with the RetryConfig's
// backoff; when every attempt fails, old's OnError and OnClose report it.
func (ac *AsyncClient) redial(old *asyncFace, cause error) {
	rc := ac.d.cfg.Retry
	var last error
	for n := 0; rc.MaxCount == 0 || n < rc.MaxCount; n++ {
		t := time.NewTimer(rc.delay(n))
		select {
		case <-t.C:
		case <-ac.stop.Done():
			t.Stop()
		}
		if ac.closed.Load() {
			break
		}
		hs, err := ac.d.dial(ac.stop) // bounded by HandshakeTimeout and Close
		if err != nil {
			last = err
			continue
		}
		if ac.closed.Load() {
			hs.nc.Close()
			break
		}
		ac.reconnects.Add(1)
		ac.start(hs)
		return
	}
	if last == nil {
		last = cause
	}
	s := old.session
	if !ac.closed.Load() {
		s.reportError(retryFailedErr(rc.MaxCount, last))
	}
	if s.h.close != nil {
		s.reported = true
		func() {
			defer func() {
				if r := recover(); r != nil {
					s.conn.cfg.logger.Error("websocket: panic in OnClose", "panic", r)
				}
			}()
			s.h.close.OnClose(s.conn, wsproto.CloseAbnormalClosure, "")
		}()
	}
	ac.stopNow()
	close(ac.done)
}
