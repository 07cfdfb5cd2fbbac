package websocket

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
)

// RFC 8441 §5 has a WebSocket dropped without a close handshake reset its
// stream with CANCEL. golang.org/x/net/http2's server has one way for a
// handler to reset its stream, panicking with http.ErrAbortHandler, and
// sends INTERNAL_ERROR for it. cancelConn sits between x/net and the TLS
// connection and turns the next such RST_STREAM into CANCEL for each
// stream that netkit dropped (streamConn.end counts them before it
// panics); every other frame, and every other reset, passes unchanged.

const (
	h2FrameHeaderLen = 9
	h2FrameRSTStream = 0x3
	h2CodeInternal   = 0x2
	h2CodeCancel     = 0x8
)

// cancelConn is the net.Conn x/net serves one HTTP/2 connection over.
type cancelConn struct {
	net.Conn
	pending atomic.Int32 // drops whose INTERNAL_ERROR reset becomes CANCEL

	mu   sync.Mutex // x/net writes from one goroutine; held for the scan state
	hdr  [h2FrameHeaderLen]byte
	hn   int    // bytes of hdr seen
	left uint32 // payload bytes of the current frame still to come
	rst  bool   // the current frame is an RST_STREAM
	code uint32 // its error code, so far
}

type cancelConnKey struct{}

// withCancelConn returns ctx carrying c, for the handlers x/net runs.
func withCancelConn(ctx context.Context, c *cancelConn) context.Context {
	return context.WithValue(ctx, cancelConnKey{}, c)
}

// dropping tells the connection of ctx's stream (if it is a cancelConn's)
// that the stream's next INTERNAL_ERROR reset is a drop: it goes out as
// CANCEL.
func dropping(ctx context.Context) {
	if c, ok := ctx.Value(cancelConnKey{}).(*cancelConn); ok {
		c.pending.Add(1)
	}
}

// ConnectionState is the TLS connection's, which x/net reads for the
// requests' TLS field and its TLS checks.
func (c *cancelConn) ConnectionState() tls.ConnectionState {
	if tc, ok := c.Conn.(interface{ ConnectionState() tls.ConnectionState }); ok {
		return tc.ConnectionState()
	}
	return tls.ConnectionState{}
}

// Write writes p, with the last byte of a counted INTERNAL_ERROR
// RST_STREAM's code changed to CANCEL's (the codes are 4 bytes, big
// endian, and differ only in the last). Frames are tracked across writes,
// so a header or payload split between two writes is still found. p is
// copied only when a byte changes.
func (c *cancelConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	out := c.scan(p)
	c.mu.Unlock()
	n, err := c.Conn.Write(out)
	return n, err
}

// scan advances the frame state over p and returns p, or a changed copy.
// Only x/net's writing goroutine calls it, and only it takes from pending.
func (c *cancelConn) scan(p []byte) []byte {
	out := p
	for i := 0; i < len(p); {
		if c.left == 0 {
			k := copy(c.hdr[c.hn:], p[i:])
			c.hn += k
			i += k
			if c.hn == h2FrameHeaderLen {
				c.hn = 0
				c.left = uint32(c.hdr[0])<<16 | uint32(c.hdr[1])<<8 | uint32(c.hdr[2])
				c.rst = c.hdr[3] == h2FrameRSTStream && c.left == 4
				c.code = 0
			}
			continue
		}
		if !c.rst {
			k := min(uint32(len(p)-i), c.left)
			c.left -= k
			i += int(k)
			continue
		}
		c.code = c.code<<8 | uint32(p[i])
		c.left--
		if c.left == 0 && c.code == h2CodeInternal && c.pending.Load() > 0 {
			c.pending.Add(-1)
			if len(out) > 0 && &out[0] == &p[0] {
				out = append([]byte(nil), p...)
			}
			out[i] = h2CodeCancel
		}
		i++
	}
	return out
}
