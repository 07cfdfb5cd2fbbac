package engine

import (
	"errors"
	"fmt"
	"net"
	"os"
)

var (
	// ErrAlreadyStarted is returned by Start or Serve on a running server.
	ErrAlreadyStarted = errors.New("netkit: listener already started")
	// ErrNotStarted is returned by GracefulStop and ImmediateStop before Start.
	ErrNotStarted = errors.New("netkit: listener not started")
	// ErrServiceAttached is returned by a face's Attach when a service is
	// already attached (one service per listener, or per path); every face
	// re-exports it.
	ErrServiceAttached = errors.New("netkit: a service is already attached to the listener")
	// ErrListenerStopping is the cause of a connection's context when its
	// listener stops gracefully. It matches net.ErrClosed.
	ErrListenerStopping = &closedError{"netkit: listener is stopping"}
	// ErrListenerStopped is the cause when a listener stops immediately.
	// It matches net.ErrClosed.
	ErrListenerStopped = &closedError{"netkit: listener stopped"}
	// ErrConnClosed is the cause of a connection closed locally. It matches
	// net.ErrClosed.
	ErrConnClosed = &closedError{"netkit: connection closed"}
	// ErrTooManyConnections is returned by ServeStream when the server
	// holds MaxConnections connections.
	ErrTooManyConnections = errors.New("netkit: too many connections")
	// ErrSendQueueFull is returned by a write when MaxPendingWrites writers
	// are already waiting for the connection's write lock.
	ErrSendQueueFull = errors.New("netkit: send queue full")
)

// closedError is an error that matches net.ErrClosed and ErrConnClosed.
type closedError struct{ msg string }

func (e *closedError) Error() string        { return e.msg }
func (e *closedError) Is(target error) bool { return isClosedTarget(target) }

// isClosedTarget reports whether target is a sentinel that every closed
// connection's error matches: net.ErrClosed or ErrConnClosed (which the
// faces export as their own ErrClosed).
func isClosedTarget(target error) bool { return target == net.ErrClosed || target == ErrConnClosed }

// PanicError is the error a face is told about when one of its callbacks
// panicked. The panic was recovered and logged; the connection was closed.
type PanicError struct {
	// Value is what was passed to panic.
	Value any
	// Stack is the panicking goroutine's stack.
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("netkit: handler panic: %v", e.Value) }

// timeoutError reports an expired read or write deadline. It matches
// os.ErrDeadlineExceeded and has Timeout() == true.
type timeoutError struct{ op string }

func (e *timeoutError) Error() string   { return "netkit: " + e.op + " timed out" }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }
func (e *timeoutError) Unwrap() error   { return os.ErrDeadlineExceeded }

// Read and write timeouts, shared so that reporting one allocates nothing.
var (
	ErrReadTimeout  error = &timeoutError{"read"}
	ErrWriteTimeout error = &timeoutError{"write"}
)

// partialWriteError reports a write that failed after some bytes left: the
// connection was closed. It wraps both the cause and net.ErrClosed.
type partialWriteError struct {
	n   int
	err error
}

func (e *partialWriteError) Error() string {
	return fmt.Sprintf("netkit: write failed after %d bytes, connection closed: %v", e.n, e.err)
}
func (e *partialWriteError) Unwrap() []error { return []error{e.err, ErrConnClosed} }

// closedByError reports an operation on a connection that an earlier error
// closed. It matches net.ErrClosed and names the cause; it unwraps to the
// cause unless that was a timeout, which would invite a retry.
type closedByError struct{ cause error }

func (e *closedByError) Error() string        { return "netkit: connection closed: " + e.cause.Error() }
func (e *closedByError) Is(target error) bool { return isClosedTarget(target) }
func (e *closedByError) Unwrap() error {
	if isTimeout(e.cause) {
		return nil
	}
	return e.cause
}
