package websocket

import (
	"errors"
	"net"
	"strconv"

	"github.com/netkit-go/netkit/internal/engine"
)

// CloseError reports that the connection was closed with a close frame:
// Code and Reason are the peer's (1005 and "" for an empty close frame, 1006
// when the TCP connection dropped without one). It matches net.ErrClosed.
// Its text follows Ballerina's client read error: "reason: Status code: N".
type CloseError struct {
	Code   int
	Reason string
}

// Error returns the error text.
func (e *CloseError) Error() string {
	return e.Reason + ": Status code: " + strconv.Itoa(e.Code)
}

// Is reports whether target is net.ErrClosed.
func (e *CloseError) Is(target error) bool { return isClosed(target) }

// ConnectionClosureError is Ballerina's ConnectionClosureError: an operation
// failed because the connection is closing or closed (a write after Close,
// a second Close, an invalid close code, a close handshake that did not
// complete). It matches net.ErrClosed except for an invalid close code, and
// unwraps to its cause (a *CloseError, os.ErrDeadlineExceeded, ...).
type ConnectionClosureError struct {
	Message string
	Err     error
	invalid bool // an argument error, not a closed connection
}

// Error returns the error text.
func (e *ConnectionClosureError) Error() string { return e.Message }

// Unwrap returns the cause.
func (e *ConnectionClosureError) Unwrap() error { return e.Err }

// Is reports whether target is net.ErrClosed.
func (e *ConnectionClosureError) Is(target error) bool {
	return isClosed(target) && !e.invalid
}

// Timeout reports whether the close handshake timed out.
func (e *ConnectionClosureError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}

// CorruptedFrameError is Ballerina's CorruptedFrameError: the peer broke
// RFC 6455 or RFC 7692 (Code 1002) or sent invalid UTF-8 or compressed data
// (Code 1007). The connection was closed with Code and Reason before the
// error was reported; it matches net.ErrClosed.
type CorruptedFrameError struct {
	Code   int
	Reason string
}

// Error returns the error text.
func (e *CorruptedFrameError) Error() string {
	return "CorruptedFrameError: " + e.Reason + " (close " + strconv.Itoa(e.Code) + ")"
}

// Is reports whether target is net.ErrClosed.
func (e *CorruptedFrameError) Is(target error) bool { return isClosed(target) }

// PayloadTooLargeError is Ballerina's PayloadTooLargeError: an inbound frame
// or message exceeded MaxFrameSize or MaxMessageSize (checked from the frame
// header, before allocating). The connection was closed with 1009 before
// the error was reported; it matches net.ErrClosed.
type PayloadTooLargeError struct {
	Reason string
}

// Error returns the error text.
func (e *PayloadTooLargeError) Error() string { return "PayloadTooLargeError: " + e.Reason }

// Is reports whether target is net.ErrClosed.
func (e *PayloadTooLargeError) Is(target error) bool { return isClosed(target) }

// InvalidHandshakeError is Ballerina's InvalidHandshakeError: an opening
// handshake failed. Status is the HTTP status answered (server side) or
// received (client side).
type InvalidHandshakeError struct {
	Status  int
	Message string
}

// Error returns the error text.
func (e *InvalidHandshakeError) Error() string { return "InvalidHandshakeError: " + e.Message }

// UpgradeError, returned by UpgradeService.Upgrade, refuses the upgrade with
// Status (forced into 400-599; 0 or anything else means 400) and Message as
// the response body.
type UpgradeError struct {
	Status  int
	Message string
}

// Error returns the error text.
func (e *UpgradeError) Error() string { return e.Message }

// AuthnError, returned by UpgradeService.Upgrade, refuses the upgrade with
// 401 Unauthorized (Ballerina's AuthnError).
type AuthnError struct{ Message string }

// Error returns the error text.
func (e *AuthnError) Error() string { return e.Message }

// AuthzError, returned by UpgradeService.Upgrade, refuses the upgrade with
// 403 Forbidden (Ballerina's AuthzError).
type AuthzError struct{ Message string }

// Error returns the error text.
func (e *AuthzError) Error() string { return e.Message }

// ConnectionError is Ballerina's ConnectionError ("IO Error"): an I/O
// failure on the connection. It unwraps to the cause and matches
// net.ErrClosed (the connection was closed).
type ConnectionError struct{ Err error }

// Error returns the error text.
func (e *ConnectionError) Error() string { return "ConnectionError: IO Error: " + e.Err.Error() }

// Unwrap returns the cause.
func (e *ConnectionError) Unwrap() error { return e.Err }

// Is reports whether target is net.ErrClosed.
func (e *ConnectionError) Is(target error) bool { return isClosed(target) }

var (
	// ErrClosed is returned by operations on a closed connection. It
	// matches net.ErrClosed, and every error of the package that matches
	// net.ErrClosed (a *CloseError, a *ConnectionClosureError, a stop's
	// cause, ...) matches ErrClosed: errors.Is(err, ErrClosed) tests "the
	// connection ended".
	ErrClosed = engine.ErrConnClosed
	// ErrSendQueueFull is returned by a write when MaxPendingWrites writers
	// already wait on the connection, and by TrySend when any write is in
	// progress.
	ErrSendQueueFull = engine.ErrSendQueueFull
	// ErrReadTimedOut is returned by Conn.Read when its read timeout passes
	// (Ballerina's ReadTimedOutError). It matches os.ErrDeadlineExceeded;
	// nothing was consumed and the connection stays usable.
	ErrReadTimedOut = engine.ErrReadTimeout
	// ErrWriteTimedOut is returned by a write when WriteTimeout passes. It
	// matches os.ErrDeadlineExceeded.
	ErrWriteTimedOut = engine.ErrWriteTimeout
	// ErrCallbackMode is returned by Conn.Read on a connection served by a
	// Service: its messages go to the callbacks.
	ErrCallbackMode = errors.New("websocket: connection is served by a Service; Read is not available")
	// ErrPongTimeout is the cause of a connection closed because a
	// keepalive ping got no pong within PongTimeout. It matches
	// os.ErrDeadlineExceeded.
	ErrPongTimeout error = &timeoutError{"websocket: no pong within the keepalive pong timeout"}
	// ErrAlreadyStarted is returned by Start or Serve on a running listener.
	ErrAlreadyStarted = engine.ErrAlreadyStarted
	// ErrNotStarted is returned by the stop methods before Start.
	ErrNotStarted = engine.ErrNotStarted
	// ErrHandlerStopped answers upgrades (503) after GracefulStop or
	// ImmediateStop of a Handler.
	ErrHandlerStopped = errors.New("websocket: handler stopped")
)

// PanicError is passed to OnError when a callback panicked. The panic was
// recovered and logged with its stack; the connection was closed with 1011.
type PanicError = engine.PanicError

type timeoutError struct{ msg string }

func (e *timeoutError) Error() string   { return e.msg }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Unwrap() error   { return osErrDeadlineExceeded }
func (e *timeoutError) Temporary() bool { return true }

// isClosed reports whether target is one of the sentinels a closed
// connection's error matches: net.ErrClosed or ErrClosed.
func isClosed(target error) bool { return target == net.ErrClosed || target == ErrClosed }
