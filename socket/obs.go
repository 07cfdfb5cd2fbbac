package socket

import (
	"github.com/netkit-go/netkit/internal/engine"
)

// caller makes the Caller of an accepted connection, with the listener's
// instruments.
func (l *Listener) caller(c *engine.Conn, mode int) *Caller {
	cl := newCaller(c, mode)
	cl.obs = l.obs
	return cl
}

// closedObs counts the end of a pulled connection.
func (c *Caller) closedObs() { c.obs.ConnClosed(c.mark, nil) }
