package tlsconf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// Validation messages, worded exactly as Ballerina's (its tests assert them).
const (
	msgKeyStorePath       = "KeyStore file location must be provided for secure connection"
	msgKeyStorePassword   = "KeyStore password must be provided for secure connection"
	msgCertFile           = "Certificate file location must be provided for secure connection"
	msgKeyFile            = "Private key file location must be provided for secure connection"
	msgTrustStorePath     = "TrustStore file location must be provided for secure connection"
	msgTrustStorePassword = "TrustStore password must be provided for secure connection"
	msgInit               = "Failed to initialize the SSL context"
)

// ConfigError reports an invalid or unloadable SecureSocket. Msg carries
// Ballerina's message: one of the "... must be provided for secure
// connection" texts for a missing field, "Failed to initialize the SSL
// context" for a file that cannot be read or decoded (Err then holds the
// cause), or a description of another invalid setting (an unknown cipher
// suite or protocol version, the SSL protocol, conflicting fields).
type ConfigError struct {
	// Msg is the message, without the cause.
	Msg string
	// Err is the underlying cause, or nil.
	Err error
}

// Error returns Msg, followed by ": " and the cause when there is one.
func (e *ConfigError) Error() string {
	if e.Err == nil {
		return e.Msg
	}
	return e.Msg + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *ConfigError) Unwrap() error { return e.Err }

func invalid(msg string) error { return &ConfigError{Msg: msg} }

func invalidf(format string, args ...any) error {
	return &ConfigError{Msg: fmt.Sprintf(format, args...)}
}

// initFailed reports a file that could not be read or decoded.
func initFailed(format string, args ...any) error {
	return &ConfigError{Msg: msgInit, Err: fmt.Errorf(format, args...)}
}

// HandshakeError is the error of a failed [Handshake]. It wraps the cause, so
// errors.Is and errors.As see through it: when the handshake timeout expires
// the error matches [os.ErrDeadlineExceeded]; when the caller's context ends
// first it matches ctx.Err() ([context.Canceled] or
// [context.DeadlineExceeded]); a certificate problem can be inspected with
// errors.As and *tls.CertificateVerificationError, an alert from the peer
// with tls.AlertError.
type HandshakeError struct {
	// Err is the cause.
	Err     error
	timeout time.Duration // the handshake timeout in force, 0 if none
}

// Error describes the failure; a timeout says so and names the limit.
func (e *HandshakeError) Error() string {
	if e.timeout > 0 && errors.Is(e.Err, os.ErrDeadlineExceeded) {
		return fmt.Sprintf("tls handshake timed out after %v: %v", e.timeout, e.Err)
	}
	return "tls handshake: " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *HandshakeError) Unwrap() error { return e.Err }

// Timeout reports whether the handshake failed because a time limit expired:
// the handshake timeout or the deadline of the caller's context.
func (e *HandshakeError) Timeout() bool {
	return errors.Is(e.Err, os.ErrDeadlineExceeded) || errors.Is(e.Err, context.DeadlineExceeded)
}
