package socket

import (
	"errors"
	"reflect"

	"github.com/netkit-go/netkit/internal/hooks"
)

// Service is what a [Listener] serves and what ClientConfig.CallbackService
// holds: a value with Ballerina's resource functions as methods. Its style
// follows from its OnReadReady method:
//
//   - 0.990 (push): OnReadReady(c *Caller, content []byte) ([ContentHandler])
//     receives each chunk read. Optional hooks: OnAccept or OnConnect,
//     OnClose, OnError.
//   - 1.x (pull): OnReadReady(c *Caller) ([ReadReadyHandler]) is told that
//     data is available and pulls it with [Caller.Read]. Optional hooks:
//     OnConnect (or OnAccept), OnError. There is no OnClose: end of stream
//     is Read's io.EOF.
//
// A method named On* that is not one of these hooks with its exact
// signature is an error at Attach (or NewClient), never silently ignored.
// One Service value serves every connection of a listener, concurrently:
// keep per-connection state keyed by the Caller, or behind a lock.
type Service any

// ContentHandler is the 0.990 (push) OnReadReady: content holds the bytes
// of one read and is borrowed until OnReadReady returns (keep it with
// bytes.Clone).
type ContentHandler interface {
	OnReadReady(c *Caller, content []byte)
}

// ReadReadyHandler is the 1.x (pull) OnReadReady: data is available (or the
// peer's end of stream has arrived); pull it with c.Read. While data remains
// after it returns, OnReadReady runs again. For one connection it never runs
// twice at once.
type ReadReadyHandler interface {
	OnReadReady(c *Caller)
}

// AcceptHandler is the 0.990 listener hook OnAccept: a connection was
// accepted. It runs before the first OnReadReady.
type AcceptHandler interface {
	OnAccept(c *Caller)
}

// ConnectHandler is OnConnect: a listener accepted a connection (1.x) or a
// client connected (the callback service of either era). It runs before the
// first OnReadReady. OnAccept and OnConnect mean the same; a service has at
// most one of them.
type ConnectHandler interface {
	OnConnect(c *Caller)
}

// CloseHandler is the 0.990 OnClose hook: it runs exactly once, after the
// connection closed (the peer's end of stream, Caller.Close, a stop of the
// listener, or an error).
type CloseHandler interface {
	OnClose(c *Caller)
}

// ErrorHandler is the OnError hook. It is told of a handler panic (a
// *GenericError "Error while on read" or "Error while on connect" whose
// Cause is a *PanicError), with the connection still open (it is closed
// gracefully afterwards), and, for 0.990 services, of a read error (after
// the connection closed).
type ErrorHandler interface {
	OnError(c *Caller, err error)
}

// ContentFunc adapts a function to a 0.990 (push) service with only
// OnReadReady(c, content).
type ContentFunc func(c *Caller, content []byte)

// OnReadReady calls f(c, content).
func (f ContentFunc) OnReadReady(c *Caller, content []byte) { f(c, content) }

// ReadReadyFunc adapts a function to a 1.x (pull) service with only
// OnReadReady(c).
type ReadReadyFunc func(c *Caller)

// OnReadReady calls f(c).
func (f ReadReadyFunc) OnReadReady(c *Caller) { f(c) }

// callbacks are a service's resolved callbacks; exactly one of content and
// ready is set.
type callbacks struct {
	content ContentHandler
	ready   ReadReadyHandler
	connect func(*Caller)
	onClose CloseHandler
	onError ErrorHandler
}

func (h *callbacks) push() bool { return h.content != nil }

var (
	sigContent = hooks.Sig[ContentHandler]("OnReadReady")
	sigReady   = hooks.Sig[ReadReadyHandler]("OnReadReady")

	serviceHooks = hooks.NewSet("socket: service").
			Allow("OnReadReady", sigContent, sigReady).
			Allow("OnAccept", hooks.Sig[AcceptHandler]("OnAccept")).
			Allow("OnConnect", hooks.Sig[ConnectHandler]("OnConnect")).
			Allow("OnClose", hooks.Sig[CloseHandler]("OnClose")).
			Allow("OnError", hooks.Sig[ErrorHandler]("OnError"))
)

// resolve checks svc's methods (once per dynamic type) and returns its
// hooks.
func resolve(svc Service) (callbacks, error) {
	if svc == nil {
		return callbacks{}, errors.New("socket: nil service")
	}
	err := serviceHooks.CheckWith(svc, styleProblems)
	if err != nil {
		return callbacks{}, err
	}
	var h callbacks
	h.content, _ = svc.(ContentHandler)
	h.ready, _ = svc.(ReadReadyHandler)
	if a, ok := svc.(AcceptHandler); ok {
		h.connect = a.OnAccept
	}
	if c, ok := svc.(ConnectHandler); ok {
		h.connect = c.OnConnect
	}
	h.onClose, _ = svc.(CloseHandler)
	h.onError, _ = svc.(ErrorHandler)
	return h, nil
}

// styleProblems reports what the generic check cannot: no OnReadReady,
// both OnAccept and OnConnect, or OnClose on a 1.x (pull) service.
func styleProblems(t reflect.Type) []string {
	var problems []string
	m, ok := t.MethodByName("OnReadReady")
	if !ok {
		problems = append(problems, "no OnReadReady method (want "+sigContent+" for 0.990 or "+sigReady+" for 1.x)")
	}
	if _, hasClose := t.MethodByName("OnClose"); hasClose && ok && hooks.MethodSig(m.Type) == sigReady {
		problems = append(problems, "OnClose is a 0.990 hook; a 1.x service (OnReadReady(*Caller)) sees the end of stream as Read's io.EOF")
	}
	_, acc := t.MethodByName("OnAccept")
	_, con := t.MethodByName("OnConnect")
	if acc && con {
		problems = append(problems, "both OnAccept and OnConnect (they mean the same; keep one)")
	}
	return problems
}
