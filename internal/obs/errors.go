package obs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/netkit-go/netkit/internal/engine"
)

// Error kinds: the error.type attribute. The list is closed, so the
// attribute's cardinality is bounded.
const (
	KindTimeout    = "timeout"
	KindReset      = "connection_reset"
	KindBrokenPipe = "broken_pipe"
	KindRefused    = "connection_refused"
	KindTLS        = "tls"
	KindPanic      = "panic"
	KindQueueFull  = "queue_full"
	KindProtocol   = "protocol"
	KindTooLarge   = "message_too_large"
	KindHandler    = "handler"
	KindHandshake  = "handshake"
	KindClosed     = "closed"
	KindOther      = "_OTHER"
)

// ErrorKind maps err to an error kind, or "" when err is no error: nil,
// io.EOF (an orderly end), or net.ErrClosed (closed on purpose here, or by
// a listener's stop).
func ErrorKind(err error) string {
	if err == nil || errors.Is(err, io.EOF) {
		return ""
	}
	var pe *engine.PanicError
	if errors.As(err, &pe) {
		return KindPanic
	}
	if errors.Is(err, engine.ErrSendQueueFull) {
		return KindQueueFull
	}
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return KindTimeout
	}
	switch {
	case errors.Is(err, syscall.ECONNRESET):
		return KindReset
	case errors.Is(err, syscall.EPIPE):
		return KindBrokenPipe
	case errors.Is(err, syscall.ECONNREFUSED):
		return KindRefused
	}
	var (
		alert tls.AlertError
		rh    tls.RecordHeaderError
		cv    *tls.CertificateVerificationError
		ua    x509.UnknownAuthorityError
		hn    x509.HostnameError
		ci    x509.CertificateInvalidError
	)
	if errors.As(err, &alert) || errors.As(err, &rh) || errors.As(err, &cv) || errors.As(err, &ua) ||
		errors.As(err, &hn) || errors.As(err, &ci) {
		return KindTLS
	}
	if errors.Is(err, net.ErrClosed) {
		return ""
	}
	return KindOther
}
