package tcp

import (
	"errors"

	"github.com/netkit-go/netkit/internal/engine"
)

var (
	// ErrCallbackMode is returned by Client.ReadBytes and Client.Read when
	// the client was created with a Service (callback mode).
	ErrCallbackMode = errors.New("tcp: client is in callback mode")
	// ErrSendQueueFull is returned by a write when MaxPendingWrites writers
	// are already waiting on the connection.
	ErrSendQueueFull = engine.ErrSendQueueFull
	// ErrAlreadyStarted is returned by Start or Serve on a running listener.
	ErrAlreadyStarted = engine.ErrAlreadyStarted
	// ErrNotStarted is returned by GracefulStop and ImmediateStop before Start.
	ErrNotStarted = engine.ErrNotStarted
	// ErrServiceAttached is returned by Attach when a service is already
	// attached (Detach first to replace it). It is the same value in every
	// face.
	ErrServiceAttached = engine.ErrServiceAttached
	// ErrNoService is returned by Start when no service is attached.
	ErrNoService = errors.New("tcp: no service attached to the listener")
	// ErrListenerStopping is the context cause of connections whose listener
	// is stopping gracefully. It matches net.ErrClosed.
	ErrListenerStopping = engine.ErrListenerStopping
	// ErrListenerStopped is the cause when the listener stopped immediately.
	// It matches net.ErrClosed.
	ErrListenerStopped = engine.ErrListenerStopped
	// ErrClosed is returned by operations on a closed connection. It matches
	// net.ErrClosed.
	ErrClosed = engine.ErrConnClosed
)

// PanicError is passed to OnError when a callback panicked. The panic was
// recovered and logged with its stack, and only that connection was closed.
type PanicError = engine.PanicError

// Error is a tcp operation's failure: Op says what failed ("connect",
// "start", "tls", ...), Err why. It unwraps to Err, so errors.Is works with
// the causes (syscall.ECONNREFUSED, syscall.EADDRINUSE, os.ErrDeadlineExceeded).
type Error struct {
	Op  string
	Err error
}

func (e *Error) Error() string { return "tcp: " + e.Op + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Timeout reports whether the cause is a timeout.
func (e *Error) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}
