package websocket

import (
	"errors"
	"net"
	"net/http"
	"strconv"

	"github.com/netkit-go/netkit/internal/engine"
)

// CloseError is a close frame's status code and reason, in both
// directions. As an error from a read it reports that the peer closed: Code
// and Reason are the peer's (1005 and "" for an empty close frame, 1006 when
// the TCP connection dropped without one). Returned from a Service callback
// it starts the close handshake with Code and Reason (Ballerina's
// CloseFrame; see [NormalClosure] and the other predefined values) and the
// loop waits for the echo up to ConnectionClosureTimeout; an invalid code is
// logged and the TCP connection is closed.
//
// It matches net.ErrClosed and ErrClosed, and errors.Is(err, target) with
// a *CloseError target compares the codes only. Its text follows
// Ballerina's client read error: "reason: Status code: N".
type CloseError struct {
	// Code is the close status code (1000-4999, or 1005/1006 as above).
	Code int
	// Reason is the close reason, at most 123 bytes of UTF-8.
	Reason string
}

// Error returns the error text.
func (e *CloseError) Error() string {
	return e.Reason + ": Status code: " + strconv.Itoa(e.Code)
}

// Is reports whether target is net.ErrClosed or ErrClosed, or a *CloseError
// with the same Code.
func (e *CloseError) Is(target error) bool {
	if t, ok := target.(*CloseError); ok {
		return t != nil && t.Code == e.Code
	}
	return isClosed(target)
}

// InvalidHandshakeError is Ballerina's InvalidHandshakeError: an opening
// handshake failed. Accept returns it with the status it answered; Dial
// returns it when the server answered the upgrade request with something
// other than a valid 101 response.
type InvalidHandshakeError struct {
	// Status is the HTTP status answered (Accept) or received (Dial; 101
	// for a 101 response that breaks RFC 6455 §4.1).
	Status int
	// Message says what was wrong.
	Message string
	// Response is, for Dial, the server's response, its body read (up to
	// 64 KiB) and replayable; nil for Accept.
	Response *http.Response
	// Err is the cause, or nil.
	Err error
}

// Error returns the error text.
func (e *InvalidHandshakeError) Error() string { return "websocket: invalid handshake: " + e.Message }

// Unwrap returns the cause.
func (e *InvalidHandshakeError) Unwrap() error { return e.Err }

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

// Sentinels of Ballerina's error kinds that carry no data of their own:
// match them with errors.Is. Each error's text is its own (Ballerina's
// message where docs/ballerina-mapping.md promises one), and it wraps its
// cause.
var (
	// ErrConnectionClosure is Ballerina's ConnectionClosureError: an
	// operation failed because the connection is closing or closed (a write
	// after Close, a second Close, an invalid close code, a close handshake
	// that did not complete). Such errors also match net.ErrClosed, except
	// for an invalid close code, and wrap their cause (a *CloseError,
	// os.ErrDeadlineExceeded, ctx's error).
	ErrConnectionClosure = errors.New("websocket: connection closure error")
	// ErrConnection is Ballerina's ConnectionError ("IO Error"): the
	// connection failed, could not be made, or Retry gave up. Such errors
	// match net.ErrClosed and wrap the cause (syscall.ECONNREFUSED, ...).
	ErrConnection = errors.New("websocket: connection error")
	// ErrCorruptedFrame is Ballerina's CorruptedFrameError: the peer broke
	// RFC 6455 or RFC 7692 (closed with 1002) or sent invalid UTF-8 or
	// compressed data (1007). The connection was closed before the error
	// was reported; such errors match net.ErrClosed.
	ErrCorruptedFrame = errors.New("websocket: corrupted frame")
	// ErrPayloadTooLarge is Ballerina's PayloadTooLargeError: an inbound
	// frame or message exceeded MaxFrameSize or MaxMessageSize (checked from
	// the frame header, before allocating). The connection was closed with
	// 1009 first; such errors match net.ErrClosed.
	ErrPayloadTooLarge = errors.New("websocket: payload too large")
	// ErrHandshakeTimedOut is Ballerina's HandshakeTimedOut: Dial's
	// HandshakeTimeout (or ctx's deadline) passed before the handshake
	// completed. Such errors match os.ErrDeadlineExceeded and have
	// Timeout() == true.
	ErrHandshakeTimedOut = errors.New("websocket: handshake timed out")
	// ErrMalformedURL is returned by Dial for a URL it cannot use
	// (Ballerina's "Malformed URL"): not ws or wss, no host, a fragment, a
	// bad port, or a parse error (wrapped).
	ErrMalformedURL = errors.New("websocket: malformed URL")
	// ErrAuth is Ballerina's AuthError: ClientConfig.Auth could not produce
	// credentials (for example a failed OAuth2 token request, wrapped).
	ErrAuth = errors.New("websocket: auth failed")

	// ErrClosed is returned by operations on a closed connection. It
	// matches net.ErrClosed, and every error of the package that matches
	// net.ErrClosed (a *CloseError, an ErrConnectionClosure error, a stop's
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
	// ErrServiceAttached is matched by the error of Attach for a path that
	// already has a service. It is the same value in every face.
	ErrServiceAttached = engine.ErrServiceAttached
	// ErrNotStarted is returned by the stop methods before Start.
	ErrNotStarted = engine.ErrNotStarted
	// ErrHandlerStopped answers upgrades (503) after GracefulStop or
	// ImmediateStop of a Handler.
	ErrHandlerStopped = errors.New("websocket: handler stopped")
)

// PanicError is passed to OnError when a callback panicked. The panic was
// recovered and logged with its stack; the connection was closed with 1011.
type PanicError = engine.PanicError

// kindError is an error of one of the kinds above.
type kindError struct {
	kind    error  // the sentinel it matches
	msg     string // the whole text
	err     error  // the cause, or nil
	closed  bool   // also matches net.ErrClosed
	timeout bool   // also matches os.ErrDeadlineExceeded; Timeout() is true
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.err }
func (e *kindError) Is(target error) bool {
	return target == e.kind || (e.closed && isClosed(target)) || (e.timeout && target == osErrDeadlineExceeded)
}

// Timeout reports whether the operation timed out.
func (e *kindError) Timeout() bool {
	if e.timeout {
		return true
	}
	var t interface{ Timeout() bool }
	return errors.As(e.err, &t) && t.Timeout()
}

// closureErr is an ErrConnectionClosure error with Ballerina's message msg.
func closureErr(msg string, cause error) error {
	return &kindError{kind: ErrConnectionClosure, msg: msg, err: cause, closed: true}
}

// invalidCloseCodeErr is Ballerina's error for an invalid close code: the
// connection is untouched, so it does not match net.ErrClosed.
func invalidCloseCodeErr(code int) error {
	return &kindError{kind: ErrConnectionClosure, msg: "Failed to execute close. Invalid status code: " + strconv.Itoa(code)}
}

// connErr is an ErrConnection error wrapping cause.
func connErr(cause error) error {
	return &kindError{kind: ErrConnection, msg: "websocket: connection error: " + cause.Error(), err: cause, closed: true}
}

type timeoutError struct{ msg string }

func (e *timeoutError) Error() string   { return e.msg }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Unwrap() error   { return osErrDeadlineExceeded }
func (e *timeoutError) Temporary() bool { return true }

// isClosed reports whether target is one of the sentinels a closed
// connection's error matches: net.ErrClosed or ErrClosed.
func isClosed(target error) bool { return target == net.ErrClosed || target == ErrClosed }
