//go:build !linux

package evloop

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Supported reports whether this platform has the event-loop backend.
const Supported = false

// Poller is the event-loop poller; on this platform [New] fails and the
// engine keeps its goroutine backend.
type Poller struct{}

// Conn is a connection registered with a [Poller].
type Conn struct{}

var errUnsupported = fmt.Errorf("evloop: no event loop on this platform: %w", errors.ErrUnsupported)

// New fails with errors.ErrUnsupported on this platform.
func New(Config) (*Poller, error) { return nil, errUnsupported }

// Register fails with errors.ErrUnsupported on this platform.
func (p *Poller) Register(int, Handler, []byte) (*Conn, error) { return nil, errUnsupported }

// Close does nothing on this platform.
func (p *Poller) Close(context.Context) error { return nil }

// Stats is a snapshot of a poller's counters.
type Stats struct{ Loops, Workers, Conns int }

// Stats returns zero counters on this platform.
func (p *Poller) Stats() Stats { return Stats{} }

// Fd returns -1 on this platform.
func (c *Conn) Fd() int { return -1 }

// Wake does nothing on this platform.
func (c *Conn) Wake() {}

// Close does nothing on this platform.
func (c *Conn) Close(error) {}

// Abort does nothing on this platform.
func (c *Conn) Abort(error) {}

// CloseWrite fails with errors.ErrUnsupported on this platform.
func (c *Conn) CloseWrite() error { return errUnsupported }

// Write fails with errors.ErrUnsupported on this platform.
func (c *Conn) Write(context.Context, []byte, time.Time) (int, error) { return 0, errUnsupported }
