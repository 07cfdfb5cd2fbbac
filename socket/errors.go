package socket

import (
	"errors"
	"net"
	"os"
	"syscall"
	"unicode"
	"unicode/utf8"

	"github.com/netkit-go/netkit/internal/engine"
)

// GenericError is Ballerina's socket:GenericError: a failed socket
// operation. Message is Ballerina's text (for example "client socket close
// already." or "unable to start the client socket: Connection refused");
// Cause is the underlying error, so errors.Is sees through it
// (net.ErrClosed, syscall.ECONNREFUSED, syscall.EADDRINUSE, ...).
type GenericError struct {
	// Message is the error's text, as Ballerina words it.
	Message string
	// Cause is the underlying error; it may be nil.
	Cause error
}

// Error returns Message.
func (e *GenericError) Error() string { return e.Message }

// Unwrap returns Cause.
func (e *GenericError) Unwrap() error { return e.Cause }

// Timeout reports whether the cause is a timeout.
func (e *GenericError) Timeout() bool { return errors.Is(e.Cause, os.ErrDeadlineExceeded) }

// readTimedOutError is the type of ErrReadTimedOut.
type readTimedOutError struct{}

func (readTimedOutError) Error() string        { return "read timed out" }
func (readTimedOutError) Unwrap() error        { return os.ErrDeadlineExceeded }
func (readTimedOutError) Timeout() bool        { return true }
func (readTimedOutError) Is(target error) bool { return target == os.ErrDeadlineExceeded }

var (
	// ErrReadTimedOut is Ballerina's socket:ReadTimedOutError, message
	// "read timed out": a read (Caller.Read or UdpClient.ReceiveFrom) waited
	// ReadTimeout without getting data. Nothing was lost: bytes received
	// before the timeout stay buffered for the next read, and the connection
	// stays usable. It matches os.ErrDeadlineExceeded and has Timeout() ==
	// true. Reads return this value, so a timeout allocates nothing.
	ErrReadTimedOut error = readTimedOutError{}

	// ErrInvalidLength is returned by Caller.Read and UdpClient.ReceiveFrom
	// for a length below 1 other than ReadAvailable.
	ErrInvalidLength error = &GenericError{Message: "requested byte length need to be 1 or more"}

	// ErrPushMode is returned by Caller.Read on a connection served by a
	// 0.990 (push) service: its data arrives in OnReadReady(c, content).
	ErrPushMode = errors.New("socket: Read is not available to a push (0.990) service; data arrives in OnReadReady(caller, content)")

	// ErrNoService is returned by Listener.Start when no service is attached.
	ErrNoService = errors.New("socket: no service attached to the listener")

	// ErrAlreadyStarted is returned by Listener.Start on a running listener.
	ErrAlreadyStarted = engine.ErrAlreadyStarted

	// ErrServiceAttached is returned by Listener.Attach when a service is
	// already attached. It is the same value in every face.
	ErrServiceAttached = engine.ErrServiceAttached
	// ErrNotStarted is returned by GracefulStop and ImmediateStop before Start.
	ErrNotStarted = engine.ErrNotStarted

	// ErrClosed is the cause of a connection closed with Caller.Close. It
	// matches net.ErrClosed.
	ErrClosed = engine.ErrConnClosed
)

// PanicError is the Cause of the *GenericError passed to OnError when a
// handler panicked ("Error while on read"): the panic's value and stack.
type PanicError = engine.PanicError

// Ballerina's messages.
const (
	msgWriteClosed   = "client socket close already."
	msgWriteFailed   = "write failed. "
	msgAlreadyClosed = "socket is already closed"
	msgShutdownWrite = "unable to shutdown the write"
	msgShutdownRead  = "unable to shutdown the read"
	msgStartClient   = "unable to start the client socket: "
	msgStartService  = "unable to start the socket service: "
	msgReadFailed    = "unable to read from socket"
	msgOnRead        = "Error while on read"
	msgOnConnect     = "Error while on connect"
	msgBindUDP       = "unable to bind the local socket port: "
	msgSendFailed    = "unable to send data: "
)

// causeText renders err the way Java's exception messages do: the system
// error's text capitalised ("Connection refused", "Address already in use"),
// or err's own text when there is no system error.
func causeText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		s := errno.Error()
		r, n := utf8.DecodeRuneInString(s)
		return string(unicode.ToUpper(r)) + s[n:]
	}
	return err.Error()
}

// writeError maps a failed write to Ballerina's messages.
func writeError(err error) error {
	if errors.Is(err, net.ErrClosed) {
		return &GenericError{Message: msgWriteClosed, Cause: err}
	}
	return &GenericError{Message: msgWriteFailed + err.Error(), Cause: err}
}
