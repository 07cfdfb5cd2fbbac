package websocket

import (
	"errors"
	"net"
	"testing"

	"github.com/netkit-go/netkit/internal/wsproto"
)

// ErrClosed is the package's own test for "the connection ended": every
// error that matches net.ErrClosed matches it, whatever its kind.
func TestErrClosedMatchesEveryClosedError(t *testing.T) {
	_, _, corrupted := protocolErr(&wsproto.ProtocolError{Code: wsproto.CloseProtocolError, Reason: "x"})
	_, _, tooLarge := protocolErr(&wsproto.ProtocolError{Code: wsproto.CloseMessageTooBig, Reason: "x"})
	for _, err := range []error{
		&CloseError{Code: 1001, Reason: "going away"},
		closureErr("x", nil),
		corrupted,
		tooLarge,
		connErr(errors.New("x")),
	} {
		if !errors.Is(err, net.ErrClosed) || !errors.Is(err, ErrClosed) {
			t.Errorf("%T %v: net.ErrClosed %v, ErrClosed %v", err, err, errors.Is(err, net.ErrClosed), errors.Is(err, ErrClosed))
		}
	}
	// An invalid close code leaves the connection open: neither matches.
	if err := invalidCloseCodeErr(999); errors.Is(err, net.ErrClosed) || errors.Is(err, ErrClosed) {
		t.Errorf("%v matches a closed connection", err)
	}
}
