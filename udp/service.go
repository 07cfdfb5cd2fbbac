package udp

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
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

var hookTypes = map[string]reflect.Type{
	"OnBytes":    reflect.TypeFor[BytesService](),
	"OnDatagram": reflect.TypeFor[DatagramService](),
	"OnError":    reflect.TypeFor[ErrorHandler](),
}

func resolveService(s Service) (*handler, error) {
	if s == nil {
		return nil, errors.New("udp: nil service")
	}
	h := &handler{svc: s}
	h.bytes, _ = s.(BytesService)
	h.dgram, _ = s.(DatagramService)
	h.onErr, _ = s.(ErrorHandler)
	t := reflect.TypeOf(s)
	for i := 0; i < t.NumMethod(); i++ {
		m := t.Method(i)
		if !strings.HasPrefix(m.Name, "On") {
			continue
		}
		it, ok := hookTypes[m.Name]
		if !ok {
			return nil, fmt.Errorf("udp: service method %s is not a udp hook (OnBytes, OnDatagram, OnError)", m.Name)
		}
		if !t.Implements(it) {
			want, _ := it.MethodByName(m.Name)
			return nil, fmt.Errorf("udp: service method %s has type %s, want %v", m.Name, methodSig(m.Type), want.Type)
		}
	}
	switch {
	case h.bytes != nil && h.dgram != nil:
		return nil, ErrBothHandlers
	case h.bytes == nil && h.dgram == nil:
		return nil, ErrNoHandler
	}
	return h, nil
}

// methodSig formats a method type without its receiver.
func methodSig(t reflect.Type) string {
	var b strings.Builder
	b.WriteString("func(")
	for i := 1; i < t.NumIn(); i++ {
		if i > 1 {
			b.WriteString(", ")
		}
		b.WriteString(t.In(i).String())
	}
	b.WriteString(")")
	switch t.NumOut() {
	case 0:
	case 1:
		b.WriteString(" " + t.Out(0).String())
	default:
		b.WriteString(" (")
		for i := 0; i < t.NumOut(); i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(t.Out(i).String())
		}
		b.WriteString(")")
	}
	return b.String()
}
