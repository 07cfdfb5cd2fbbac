package tlsconf

import (
	"context"
	"crypto/tls"
	"time"
)

// DefaultHandshakeTimeout bounds a TLS handshake when the configured
// HandshakeTimeout is zero. (Ballerina has no default; netkit adds one so that
// a silent peer cannot hold a connection slot forever.)
const DefaultHandshakeTimeout = 10 * time.Second

// HandshakeTimeout resolves a configured handshake timeout: zero gives
// [DefaultHandshakeTimeout], a negative value gives 0 (no timeout), any other
// value is returned unchanged.
func HandshakeTimeout(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return DefaultHandshakeTimeout
	case d < 0:
		return 0
	}
	return d
}

// Handshake runs the TLS handshake of c, bounded by timeout (resolved by
// [HandshakeTimeout]: 0 means 10 s, negative means none) and by ctx.
//
// The timeout is applied as a deadline on the underlying connection
// (c.NetConn()), which Handshake clears again after a successful handshake:
// call it before setting deadlines of your own. ctx is passed to
// tls.Conn.HandshakeContext; if it ends during the handshake, crypto/tls
// closes the underlying connection.
//
// The error is a *[HandshakeError] wrapping the cause. When the timeout
// expires it matches [os.ErrDeadlineExceeded]; when ctx ends first it matches
// ctx.Err(). Its Timeout method reports true in both deadline cases. After a
// failed handshake c is unusable; the caller closes it.
func Handshake(ctx context.Context, c *tls.Conn, timeout time.Duration) error {
	timeout = HandshakeTimeout(timeout)
	nc := c.NetConn()
	if timeout > 0 {
		if err := nc.SetDeadline(time.Now().Add(timeout)); err != nil {
			return &HandshakeError{Err: err}
		}
	}
	if err := c.HandshakeContext(ctx); err != nil {
		return &HandshakeError{Err: err, timeout: timeout}
	}
	if timeout > 0 {
		if err := nc.SetDeadline(time.Time{}); err != nil {
			return &HandshakeError{Err: err}
		}
	}
	return nil
}
