package evloop

import (
	"bufio"
	"errors"
	"fmt"
	"net"
)

// ErrNotDetachable is returned by [Detach] for a connection that has no
// plain socket descriptor to take over (a *tls.Conn, a net.Pipe).
var ErrNotDetachable = errors.New("evloop: connection has no detachable socket")

// DetachHijacked is [Detach] for a connection taken from net/http by
// Hijack: it flushes rw's writer into the socket first, and returns the
// bytes rw's reader had already read from it (the first frames a client
// sent right behind its upgrade request). Pass them to [Poller.Register]
// as buffered; rw must not be used afterwards. rw may be nil.
func DetachHijacked(nc net.Conn, rw *bufio.ReadWriter) (fd int, buffered []byte, err error) {
	if rw != nil {
		if err := rw.Flush(); err != nil {
			return -1, nil, fmt.Errorf("evloop: detach: flush: %w", err)
		}
		if n := rw.Reader.Buffered(); n > 0 {
			p, _ := rw.Reader.Peek(n) // n bytes are buffered: no read, no error
			buffered = append([]byte(nil), p...)
		}
	}
	fd, err = Detach(nc)
	if err != nil {
		return -1, nil, err
	}
	return fd, buffered, nil
}
