package websocket

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/netkit-go/netkit/internal/engine"
	"github.com/netkit-go/netkit/internal/wsproto"
)

// Client is a synchronous WebSocket client (Ballerina's websocket:Client):
// the same [Conn] as the server side, pulled with Read and its
// conveniences. Writes, Ping, Pong, Close and the getters are safe for
// concurrent use; one Read runs at a time.
//
// With ClientConfig.Retry, a failed read or write reconnects (see
// [RetryConfig]) and the connection is replaced by the new one; the Client's
// methods always act on the current connection.
type Client struct {
	conn *Conn // the current connection; replaced by Retry under mu

	d          *dialer
	mu         sync.RWMutex // guards conn, resp, attrs
	resp       *http.Response
	attrs      map[string]any
	reMu       sync.Mutex // serialises reconnections
	closed     atomic.Bool
	reconnects atomic.Int64
}

// Dial connects to a ws or wss URL and runs the opening handshake (bounded
// by ctx and cfg.HandshakeTimeout, 300 s by default). Errors match
// [ErrMalformedURL] for a URL that is not ws or wss; [ErrConnection]
// (Ballerina's ConnectionError, wrapping the cause such as
// syscall.ECONNREFUSED) when the connection fails or is refused;
// [ErrHandshakeTimedOut]; [ErrAuth]. An *[InvalidHandshakeError] carries
// the status and response when the server refuses the upgrade; a
// *[ProxyError] a proxy's refusal; TLS errors are crypto/tls's.
func Dial(ctx context.Context, url string, cfg *ClientConfig) (*Client, error) {
	d, err := newDialer(url, cfg)
	if err != nil {
		return nil, err
	}
	hs, err := d.dial(ctx)
	if err != nil {
		return nil, err
	}
	return &Client{conn: d.newPullConn(hs), d: d, resp: hs.resp}, nil
}

// newPullConn makes the client Conn of a completed handshake.
func (d *dialer) newPullConn(hs *handshake) *Conn {
	c := d.newConn(hs)
	c.pull = newPull()
	if d.pingPong.ping != nil || d.pingPong.pong != nil {
		c.pingPong = &d.pingPong
	}
	return c
}

func (d *dialer) newConn(hs *handshake) *Conn {
	var params *wsproto.DeflateParams
	if hs.result.Deflate {
		p := hs.result.DeflateParams
		params = &p
	}
	// Secure means wss with TLS to the target (not merely an https proxy).
	c := newConn(wsproto.RoleClient, &d.cc, hs.result.Subprotocol, d.secure, params, d.cfg.Compression.deflate())
	c.ec = engine.NewConn(hs.nc, d.ecfg)
	c.ec.SetBuffered(hs.buffered)
	d.cc.obs.OpenKeyed(c)
	return c
}

// current returns the current connection.
func (cl *Client) current() *Conn {
	cl.mu.RLock()
	c := cl.conn
	cl.mu.RUnlock()
	return c
}

// Conn returns the connection of the moment: after a Retry reconnection it
// is a new one. It is for code that takes a *Conn, such as [NetConn]; the
// Client's own methods follow reconnections and are the ones to use.
func (cl *Client) Conn() *Conn { return cl.current() }

// HandshakeResponse returns the server's 101 response (200 over HTTP/2,
// Proto "HTTP/2.0") to the opening handshake (of the current connection, after a reconnect). Its Body is
// empty.
func (cl *Client) HandshakeResponse() *http.Response {
	cl.mu.RLock()
	defer cl.mu.RUnlock()
	return cl.resp
}

// HTTPVersion returns the HTTP version of the current connection's opening
// handshake, as [Conn.HTTPVersion]: "2" for an RFC 8441 stream
// (ClientConfig.HTTP2), "1.1" for an upgrade (also when HTTP2 fell back).
func (cl *Client) HTTPVersion() string { return cl.current().HTTPVersion() }

// Reconnects returns how many times Retry reconnected the client.
func (cl *Client) Reconnects() int { return int(cl.reconnects.Load()) }

// Read waits for the next whole message and appends its payload to buf
// (see [Conn.Read]): with a buf of enough capacity it allocates nothing.
// Pings that arrive meanwhile go to the PingPongHandler, or are answered.
//
// When ReadTimeout passes, Read returns ErrReadTimedOut (matching
// os.ErrDeadlineExceeded); nothing is lost and the next Read goes on. When
// the server closes, Read echoes the close and returns a *CloseError whose
// text is Ballerina's "reason: Status code: N". Reading after that (or
// after Close) is "Connection already closed" (matching
// [ErrConnectionClosure]) wrapping the first error. With Retry, an abnormal closure or I/O error
// reconnects and the read goes on on the new connection.
func (cl *Client) Read(ctx context.Context, buf []byte) (MessageType, []byte, error) {
	for {
		c := cl.current()
		typ, out, err := cl.readOnce(ctx, c, buf)
		if err == nil || !cl.shouldRetry(c, err) {
			return typ, out, err
		}
		if rerr := cl.reconnect(ctx, c, err); rerr != nil {
			return 0, buf, rerr
		}
	}
}

// readOnce reads one message from c, applying ReadTimeout.
func (cl *Client) readOnce(ctx context.Context, c *Conn, buf []byte) (MessageType, []byte, error) {
	rctx := ctx
	if rt := cl.d.cfg.ReadTimeout; rt > 0 {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(ctx, rt)
		defer cancel()
	}
	select {
	case c.rsem <- struct{}{}:
	default:
		select {
		case c.rsem <- struct{}{}:
		case <-rctx.Done():
			return 0, buf, cl.readCtxErr(ctx, rctx)
		}
	}
	defer func() { <-c.rsem }()
	if c.readErr != nil {
		return 0, buf, closureErr("Connection already closed", c.readErr)
	}
	var (
		typ MessageType
		out []byte
		err error
	)
	if c.cfg.pingInterval > 0 {
		typ, out, err = c.readKeepalive(rctx, buf)
	} else {
		typ, out, err = c.readHeld(rctx, buf, false)
	}
	if err != nil && rctx != ctx && err != ErrPongTimeout && (rctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, os.ErrDeadlineExceeded)) {
		return typ, out, cl.readCtxErr(ctx, rctx)
	}
	return typ, out, err
}

// readCtxErr is the error of a read whose context rctx (ctx plus the read
// timeout) ended. The socket deadline may fire just before rctx's timer.
func (cl *Client) readCtxErr(ctx, rctx context.Context) error {
	if rctx == ctx {
		return ctx.Err()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	cdl, ok := ctx.Deadline()
	rdl, _ := rctx.Deadline()
	if ok && !cdl.After(rdl) {
		return context.DeadlineExceeded
	}
	return ErrReadTimedOut
}

// shouldRetry reports whether err on c warrants a reconnect.
func (cl *Client) shouldRetry(c *Conn, err error) bool {
	if cl.d.cfg.Retry == nil || cl.closed.Load() || !retryable(err) {
		return false
	}
	if code, _, ok := c.received(); ok && code != wsproto.CloseAbnormalClosure {
		return false // the server closed normally
	}
	return true
}

// ReadTextMessage reads the next message into a new slice. As Ballerina's
// readTextMessage, the message type is not checked. Text is []byte on every
// path, as WriteTextMessage takes and OnTextMessage gets it: the payload is
// returned as read, with no copy into a string (string(text) makes one when
// wanted), and Read(ctx, buf) reuses a buffer.
func (cl *Client) ReadTextMessage(ctx context.Context) ([]byte, error) {
	return cl.ReadBinaryMessage(ctx)
}

// ReadBinaryMessage reads the next message into a new slice. As
// Ballerina's readBinaryMessage, the message type is not checked.
func (cl *Client) ReadBinaryMessage(ctx context.Context) ([]byte, error) {
	_, p, err := cl.Read(ctx, nil)
	if err != nil {
		return nil, err
	}
	if p == nil {
		p = []byte{}
	}
	return p, nil
}

// PayloadBindingError is returned by ReadMessage when the message does not
// decode into the target (Ballerina's PayloadBindingError, "data binding
// failed: ..."). The connection stays open.
type PayloadBindingError struct{ Err error }

// Error returns the message.
func (e *PayloadBindingError) Error() string { return "data binding failed: " + e.Err.Error() }

// Unwrap returns the decoding error.
func (e *PayloadBindingError) Unwrap() error { return e.Err }

// ReadMessage reads the next message into v, a non-nil pointer
// (Ballerina's readMessage), with the binding of a Service's OnMessage: a
// *string (any string kind) or *[]byte receives the payload as it is;
// anything else is decoded from JSON (text or binary), a failure being a
// *PayloadBindingError after which the connection goes on.
func (cl *Client) ReadMessage(ctx context.Context, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("websocket: ReadMessage needs a non-nil pointer, not %T", v)
	}
	_, p, err := cl.Read(ctx, nil)
	if err != nil {
		return err
	}
	return bindValue(rv.Elem(), p, false)
}

// Write sends p as one message of type typ; with Retry, a failed write is
// sent again on the new connection.
func (cl *Client) Write(ctx context.Context, typ MessageType, p []byte) error {
	for {
		c := cl.current()
		err := c.Write(ctx, typ, p)
		if err == nil || !cl.shouldRetry(c, err) {
			return err
		}
		if rerr := cl.reconnect(ctx, c, err); rerr != nil {
			return rerr
		}
	}
}

// WriteTextMessage sends text as one text message (see [Conn.Write]).
func (cl *Client) WriteTextMessage(ctx context.Context, text []byte) error {
	return cl.Write(ctx, TextMessage, text)
}

// WriteBinaryMessage sends data as one binary message.
func (cl *Client) WriteBinaryMessage(ctx context.Context, data []byte) error {
	return cl.Write(ctx, BinaryMessage, data)
}

// WriteMessage sends v: a string as text, a []byte as binary, anything
// else as JSON text.
func (cl *Client) WriteMessage(ctx context.Context, v any) error {
	switch v := v.(type) {
	case string:
		return cl.Write(ctx, TextMessage, []byte(v))
	case []byte:
		return cl.Write(ctx, BinaryMessage, v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return cl.Write(ctx, TextMessage, b)
}

// WritePreparedMessage sends a prepared message (see
// [Conn.WritePreparedMessage]).
func (cl *Client) WritePreparedMessage(ctx context.Context, pm *PreparedMessage) error {
	return cl.current().WritePreparedMessage(ctx, pm)
}

// TrySend sends a prepared message unless a write is in progress (see
// [Conn.TrySend]).
func (cl *Client) TrySend(ctx context.Context, pm *PreparedMessage) error {
	return cl.current().TrySend(ctx, pm)
}

// Ping sends a ping (at most 125 bytes); the pong goes to the
// PingPongHandler.
func (cl *Client) Ping(ctx context.Context, data []byte) error { return cl.current().Ping(ctx, data) }

// Pong sends a pong (at most 125 bytes).
func (cl *Client) Pong(ctx context.Context, data []byte) error { return cl.current().Pong(ctx, data) }

// Close runs the close handshake with code and reason (Ballerina's close;
// see [Conn.Close]): it sends the close frame and waits for the echo,
// bounded by ctx and ConnectionClosureTimeout (60 s), then closes the TCP
// connection. No reconnect follows.
func (cl *Client) Close(ctx context.Context, code int, reason string) error {
	if validLocalCloseCode(code) {
		cl.closed.Store(true)
	}
	c := cl.current()
	err := c.Close(ctx, code, reason)
	c.cfg.obs.CloseKeyed(c, nil) // no-op if the read side counted it
	return err
}

// ID returns the current connection's id.
func (cl *Client) ID() string { return cl.current().ID() }

// NegotiatedSubProtocol returns the subprotocol the server chose, or "".
func (cl *Client) NegotiatedSubProtocol() string { return cl.current().NegotiatedSubProtocol() }

// IsSecure reports whether the connection runs over TLS (wss).
func (cl *Client) IsSecure() bool { return cl.current().IsSecure() }

// TLS returns the TLS connection state, or nil.
func (cl *Client) TLS() *tls.ConnectionState { return cl.current().TLS() }

// IsOpen reports whether the current connection is open.
func (cl *Client) IsOpen() bool { return cl.current().IsOpen() }

// Context returns a context cancelled when the current connection ends.
func (cl *Client) Context() context.Context { return cl.current().Context() }

// RemoteAddr returns the server's address (the proxy's behind a proxy).
func (cl *Client) RemoteAddr() net.Addr { return cl.current().RemoteAddr() }

// LocalAddr returns the local address.
func (cl *Client) LocalAddr() net.Addr { return cl.current().LocalAddr() }

// SetAttribute stores a value on the client (kept across reconnects); a
// nil value removes it.
func (cl *Client) SetAttribute(key string, value any) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if value == nil {
		delete(cl.attrs, key)
		return
	}
	if cl.attrs == nil {
		cl.attrs = make(map[string]any)
	}
	cl.attrs[key] = value
}

// Attribute returns the value stored under key, or nil.
func (cl *Client) Attribute(key string) any {
	cl.mu.RLock()
	defer cl.mu.RUnlock()
	return cl.attrs[key]
}
