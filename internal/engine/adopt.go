package engine

import (
	"net"

	"github.com/netkit-go/netkit/internal/bufpool"
)

// This file lets a face receive bytes that were read before the engine took
// the connection over: after an HTTP upgrade, net/http's bufio.Reader may
// already hold the first frames the client sent behind its request.

// AdoptBuffered is [Server.Adopt] for a connection whose first bytes were
// already read by someone else (net/http's bufio.Reader after Hijack). A
// [StreamFace] is handed buffered right after Open, before the first socket
// read; a [ConnFace]'s [Conn.Read] returns them first. buffered is copied.
func (s *Server) AdoptBuffered(nc net.Conn, face Face, buffered []byte) *Conn {
	return s.adopt(nc, face, buffered)
}

// SetBuffered stores bytes to deliver before the first socket read of a
// connection made by NewConn (see AdoptBuffered). Call it before Start or
// the first Read. buffered is copied.
func (c *Conn) SetBuffered(buffered []byte) {
	if len(buffered) > 0 {
		c.pre = append([]byte(nil), buffered...)
	}
}

// pushBuffered hands the pre-read bytes to f in a pooled buffer, like one
// socket read. It returns the buffer still holding unconsumed bytes (or nil).
func (c *Conn) pushBuffered(f StreamFace) (buf *[]byte, kept int, err error) {
	pre := c.pre
	c.pre = nil
	buf = bufpool.Get(bufpool.Class(len(pre)))
	if len(*buf) < len(pre) { // beyond the largest class
		b := make([]byte, len(pre))
		buf = &b
	}
	n := copy(*buf, pre)
	consumed, err := c.push(f, (*buf)[:n])
	if err != nil {
		return buf, 0, err
	}
	buf, kept = c.resize(buf, n-consumed, n)
	return buf, kept, nil
}

// readBuffered serves a pull Read from the pre-read bytes.
func (c *Conn) readBuffered(p []byte) int {
	n := copy(p, c.pre)
	c.pre = c.pre[n:]
	if len(c.pre) == 0 {
		c.pre = nil
	}
	return n
}
