package udp

import (
	"errors"

	"github.com/netkit-go/netkit/internal/hooks"
)

// Service is what a [Listener] dispatches to: a value implementing exactly
// one of [BytesService] and [DatagramService], and optionally
// [ErrorHandler]. Methods are resolved once, at [Listener.Attach]; a method
// named On* that matches none of these hooks is an error there, not ignored.
type Service any

// BytesService receives each datagram's payload (Ballerina's onBytes).
//
// data is borrowed: valid only until OnBytes returns (keep it with
// bytes.Clone). A non-nil reply is sent to the sender, split at
// MaxDatagramSize; it may be data itself, and the handler may reuse its
// memory as soon as OnBytes returns. nil sends nothing; an empty non-nil
// slice sends an empty datagram. A returned error is logged and passed to
// OnError; a reply returned with it is still sent.
type BytesService interface {
	OnBytes(c Caller, data []byte) (reply []byte, err error)
}

// DatagramService receives each datagram with its sender (Ballerina's
// onDatagram).
//
// d.Data is borrowed, as for [BytesService]. The reply is sent to
// reply.Addr (to the sender when reply.Addr is the zero value) when
// reply.Data is not nil. Errors are handled as for BytesService.
type DatagramService interface {
	OnDatagram(c Caller, d Datagram) (reply Datagram, err error)
}

// ErrorHandler is the optional OnError hook. It is told about handler
// errors, recovered panics ([*PanicError]), failed replies, truncated
// datagrams ([ErrTruncated]) and receive errors such as ICMP port
// unreachable on a connected listener. It runs where the failing datagram
// was handled (the read loop or its worker).
type ErrorHandler interface {
	OnError(c Caller, err error)
}

// BytesFunc adapts a function to a [BytesService].
type BytesFunc func(c Caller, data []byte) ([]byte, error)

// OnBytes calls f(c, data).
func (f BytesFunc) OnBytes(c Caller, data []byte) ([]byte, error) { return f(c, data) }

// DatagramFunc adapts a function to a [DatagramService].
type DatagramFunc func(c Caller, d Datagram) (Datagram, error)

// OnDatagram calls f(c, d).
func (f DatagramFunc) OnDatagram(c Caller, d Datagram) (Datagram, error) { return f(c, d) }

// Echo is a service that sends every datagram back to its sender.
var Echo BytesService = BytesFunc(func(_ Caller, data []byte) ([]byte, error) { return data, nil })

// handler is a Service resolved once at Attach.
type handler struct {
	svc   Service
	bytes BytesService
	dgram DatagramService
	onErr ErrorHandler
}

var serviceHooks = hooks.NewSet("udp: Service").
	Allow("OnBytes", hooks.Sig[BytesService]("OnBytes")).
	Allow("OnDatagram", hooks.Sig[DatagramService]("OnDatagram")).
	Allow("OnError", hooks.Sig[ErrorHandler]("OnError"))

func resolveService(s Service) (*handler, error) {
	if s == nil {
		return nil, errors.New("udp: nil service")
	}
	h := &handler{svc: s}
	h.bytes, _ = s.(BytesService)
	h.dgram, _ = s.(DatagramService)
	h.onErr, _ = s.(ErrorHandler)
	if err := serviceHooks.Check(s); err != nil {
		return nil, err
	}
	switch {
	case h.bytes != nil && h.dgram != nil:
		return nil, ErrBothHandlers
	case h.bytes == nil && h.dgram == nil:
		return nil, ErrNoHandler
	}
	return h, nil
}
