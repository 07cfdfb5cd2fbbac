package udp

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/netkit-go/netkit/internal/engine"
)

// Sentinel errors. Match them with [errors.Is]; the errors returned by the
// package usually wrap them in an [*Error] that adds Ballerina's message.
var (
	// ErrTruncated reports a datagram larger than the receive buffer. The
	// datagram is consumed; nothing of it is delivered.
	ErrTruncated = errors.New("udp: datagram larger than the receive buffer")

	// ErrDatagramTooLarge reports a payload that cannot be sent as one
	// datagram: longer than 65507 bytes, or longer than MaxDatagramSize when
	// splitting is disabled (negative MaxDatagramSize).
	ErrDatagramTooLarge = errors.New("udp: payload too large for one datagram")

	// ErrAlreadyStarted is returned by [Listener.Start] and [Listener.Serve]
	// while the listener is running. It is the same value in every face.
	ErrAlreadyStarted = engine.ErrAlreadyStarted

	// ErrServiceNotAttached is returned by [Listener.Detach] when no service
	// is attached, with Ballerina's message, and by [Listener.Start] when
	// there is nothing to dispatch to.
	ErrServiceNotAttached = errors.New("service is not attached to the listener")

	// ErrServiceAttached is returned by [Listener.Attach] when a service is
	// already attached (a listener has one service, as in Ballerina). It is
	// the same value in every face.
	ErrServiceAttached = engine.ErrServiceAttached

	// ErrBothHandlers is returned by [Listener.Attach] for a service that
	// implements both OnBytes and OnDatagram (Ballerina's compiler rule).
	ErrBothHandlers = errors.New("Service cannot contain both onBytes and onDatagram")

	// ErrNoHandler is returned by [Listener.Attach] for a service that
	// implements neither OnBytes nor OnDatagram.
	ErrNoHandler = errors.New("Service must contain either onBytes or onDatagram")

	// ErrRemoteIncomplete is returned by [NewListener] when only one of
	// RemoteHost and RemotePort is set, with Ballerina's message.
	ErrRemoteIncomplete = errors.New("Required both remoteHost and remotePort to connect to remote address.")
)

// Ballerina's messages, used as [Error.Msg].
const (
	msgInitClient  = "Error initializing UDP Client"
	msgConnect     = "Can't connect to remote host"
	msgSend        = "Failed to send data"
	msgReadTimeout = "Read timed out"
	msgRead        = "Failed to read data"
	msgUnreachable = "Port unreachable"
	msgClose       = "Unable to close the UDP client"
	msgListen      = "Unable to initialize UDP Listener"
	msgTruncated   = "Datagram truncated"
)

// Error is Ballerina's udp:Error: an operation's failure with Ballerina's
// message and the underlying cause. It unwraps to the cause, so
// errors.Is(err, net.ErrClosed), errors.Is(err, os.ErrDeadlineExceeded),
// errors.Is(err, ErrTruncated) and similar work through it.
type Error struct {
	// Op is the operation: "init", "connect", "send", "receive", "close",
	// "listen" or "serve".
	Op string
	// Msg is Ballerina's message, for example "Read timed out".
	Msg string
	// Err is the cause; it may be nil.
	Err error
}

// Error returns Msg, followed by the cause unless the cause is a timeout
// (whose text would add nothing to "Read timed out").
func (e *Error) Error() string {
	if e.Err == nil || e.Timeout() {
		return e.Msg
	}
	return e.Msg + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Timeout reports whether the operation failed because its deadline (the
// configured Timeout or the context's deadline) passed.
func (e *Error) Timeout() bool { return errors.Is(e.Err, os.ErrDeadlineExceeded) }

// PanicError is passed to OnError when a handler panics: its Value and
// Stack. The listener recovers the panic, logs it and keeps running. It is
// the same type in every face.
type PanicError = engine.PanicError

// readError turns a failed read into the package's error vocabulary: ctx's
// own error when ctx was cancelled, "Read timed out" (os.ErrDeadlineExceeded,
// plus context.DeadlineExceeded when ctx's deadline fired) on timeouts.
func readError(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		if errors.Is(cerr, context.DeadlineExceeded) {
			return &Error{Op: "receive", Msg: msgReadTimeout, Err: errors.Join(err, cerr)}
		}
		return cerr
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if ctxExpired(ctx) { // ctx's deadline fired, and ctx's timer has not yet noticed
			err = errors.Join(err, context.DeadlineExceeded)
		}
		return &Error{Op: "receive", Msg: msgReadTimeout, Err: err}
	}
	if errors.Is(err, errConnRefused) {
		return &Error{Op: "receive", Msg: msgUnreachable, Err: err}
	}
	return &Error{Op: "receive", Msg: msgRead, Err: err}
}

// sendError wraps a failed send with Ballerina's "Failed to send data".
func sendError(ctx context.Context, err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if cerr := ctx.Err(); cerr != nil {
			err = errors.Join(err, cerr)
		} else if ctxExpired(ctx) {
			err = errors.Join(err, context.DeadlineExceeded)
		}
	}
	return &Error{Op: "send", Msg: msgSend, Err: err}
}

// ctxExpired reports whether ctx's deadline has passed.
func ctxExpired(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}
