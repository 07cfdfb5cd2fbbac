package websocket

import (
	"context"
	"errors"
	"net/http"

	"github.com/netkit-go/netkit/internal/engine"
)

// AsyncClient is a WebSocket client served by a [Service] (Ballerina's
// AsyncClient with its callback service): the connection's read loop calls
// the Service's OnOpen, OnTextMessage, OnBinaryMessage, OnPing, OnPong,
// OnIdleTimeout, OnClose and OnError exactly as a server connection's,
// through the same dispatcher. It embeds the same [Conn]: writes, Ping,
// Pong, Close and the getters work as on a [Client]; Read returns
// ErrCallbackMode. Retry does not apply to an AsyncClient: DialAsync
// refuses a ClientConfig with Retry.
type AsyncClient struct {
	*Conn
	resp *http.Response
}

// DialAsync connects to url like [Dial] and serves the connection with s
// (see [Service]; a malformed callback fails DialAsync). OnOpen runs on the
// connection's goroutine right after the handshake, possibly before
// DialAsync returns. The connection lives until closed by either side;
// Done reports when its loop ended (after OnClose).
func DialAsync(ctx context.Context, url string, s Service, cfg *ClientConfig) (*AsyncClient, error) {
	h, err := resolvePlain(s)
	if err != nil {
		return nil, err
	}
	if cfg != nil && cfg.Retry != nil {
		return nil, errAsyncRetry
	}
	d, err := newDialer(url, cfg)
	if err != nil {
		return nil, err
	}
	hs, err := d.dial(ctx)
	if err != nil {
		return nil, err
	}
	c := d.newConn(hs)
	sess := newSession(c, &h, nil)
	c.ec.Start(&asyncFace{sess})
	return &AsyncClient{Conn: c, resp: hs.resp}, nil
}

// errAsyncRetry refuses a RetryConfig given to DialAsync, which used to be
// silently ignored.
var errAsyncRetry = errors.New("websocket: ClientConfig.Retry applies to a Client; an AsyncClient does not reconnect (redial from OnClose)")

// HandshakeResponse returns the server's 101 response. Its Body is empty.
func (ac *AsyncClient) HandshakeResponse() *http.Response { return ac.resp }

// Done returns a channel closed when the connection's loop has ended
// (OnClose has run).
func (ac *AsyncClient) Done() <-chan struct{} { return ac.ec.Done() }

// asyncFace is the dispatcher's session with an Open that does not set the
// Conn's engine connection (already set before the loop started, so that
// the caller of DialAsync may write at once without a data race).
type asyncFace struct{ *session }

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
