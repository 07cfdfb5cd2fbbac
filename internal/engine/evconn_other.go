//go:build !linux

package engine

import (
	"context"

	"github.com/netkit-go/netkit/internal/evloop"
)

// serveOnPoller: no event-loop backend on this system.
func (c *Conn) serveOnPoller(*evloop.Poller, StreamFace) bool { return false }

func (c *Conn) evWrite(context.Context, *evloop.Conn, []byte) (int, error) {
	return 0, ErrConnClosed
}
