package websocket

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"unsafe"

	hookset "github.com/netkit-go/netkit/internal/hooks"
)

// UpgradeService decides an upgrade request (Ballerina's upgrade service
// with its get resource). Upgrade returns the Service for the connection,
// and may add headers to the 101 response through respHeader. Errors refuse
// the upgrade: *UpgradeError with its Status, *AuthnError 401, *AuthzError
// 403, any other error 400 (the body is the error's text); a panic 500.
// r.Context() ends when the upgrade does, as net/http's request context
// ends with its handler: for the connection's lifetime use
// [Conn.Context] in OnOpen.
type UpgradeService interface {
	Upgrade(r *http.Request, respHeader http.Header) (Service, error)
}

// UpgradeFunc adapts a function to an [UpgradeService].
type UpgradeFunc func(r *http.Request, respHeader http.Header) (Service, error)

// Upgrade calls f(r, respHeader).
func (f UpgradeFunc) Upgrade(r *http.Request, respHeader http.Header) (Service, error) {
	return f(r, respHeader)
}

// Static returns an UpgradeService that accepts every upgrade with s.
// Listener.Attach checks s at once.
func Static(s Service) UpgradeService { return staticUpgrade{s} }

// Service serves WebSocket connections through optional callbacks, each an
// interface below (OpenHandler, TextMessageHandler, ...). Callbacks of one
// connection run one at a time on its read goroutine; the next frame is not
// dispatched until the callback returns. A []byte passed to a callback is
// borrowed until it returns. A method named On* that matches none of the
// callbacks is an error at upgrade time. Returning a *[CloseError] starts the
// close handshake with its code; another error is logged and passed to
// OnError, and the connection stays open.
//
// Data binding (Ballerina's onMessage): a method
//
//	OnMessage(c *websocket.Conn, v T) error
//
// receives every text and binary message decoded into T: a string kind
// gets the text as it is, a []byte kind the payload as it is (borrowed),
// anything else (a struct, map, slice, number, bool, json.RawMessage, a
// json.Unmarshaler) the JSON decoding of the text, or of the binary
// payload. OnMessage cannot coexist with OnTextMessage or OnBinaryMessage
// (an error at Attach for a Static service, else at upgrade). When a
// message does not decode, OnError gets a *PayloadBindingError and the
// connection stays open; without OnError the connection is closed with
// 1003 "data binding failed: <msg>".
//
// Custom dispatch (Ballerina's on<Custom>): with ServiceConfig.DispatcherKey
// set, a text message that is a JSON object whose DispatcherKey field has
// the string value v goes to the method DispatcherValues[v] names, or else
// to the method [DispatchMethodName](v) ("OnSubscribe" for "subscribe"),
// with the same shape and binding as OnMessage. A message that matches no
// such method goes to OnTextMessage, then OnMessage, else it is dropped.
// A binding failure goes to the method's own On<X>Error(c *Conn, err
// error) if it has one, then OnError, then closes with 1003 as above.
//
// Return values (Ballerina's returns): OnMessage, a custom method,
// OnTextMessage and OnBinaryMessage may instead return (R, error); when the
// error is nil, R is sent: nothing for nil or "", a string as text, a
// []byte as binary, a *CloseError as the close handshake, each element of a
// receive channel (until it is closed or the connection ends) or of an
// iter.Seq[T] in order, and anything else as its JSON encoding in a text
// message. An iter.Seq2[T, error] is a stream whose error closes the
// connection with 1011 "streaming failed: <msg>". The next message is
// dispatched after the whole result was sent. OnPing may return ([]byte,
// error): the bytes are the pong's payload. A result that cannot be sent
// goes to OnError as an [ErrReturnValue] error.
type Service any

// OpenHandler is the optional OnOpen callback: it runs after the handshake,
// before any frame is read.
type OpenHandler interface {
	OnOpen(c *Conn) error
}

// TextMessageHandler is the optional OnTextMessage callback: a complete text
// message (fragments reassembled, decompressed, valid UTF-8). Without it,
// text messages are dropped.
type TextMessageHandler interface {
	OnTextMessage(c *Conn, text []byte) error
}

// BinaryMessageHandler is the optional OnBinaryMessage callback: a complete
// binary message. Without it, binary messages are dropped.
type BinaryMessageHandler interface {
	OnBinaryMessage(c *Conn, data []byte) error
}

// PingHandler is the optional OnPing callback. Without it, every ping is
// answered with a pong carrying its payload; with it, the callback answers
// (c.Pong) if it wants to.
type PingHandler interface {
	OnPing(c *Conn, data []byte) error
}

// PongHandler is the optional OnPong callback; without it pongs are ignored.
type PongHandler interface {
	OnPong(c *Conn, data []byte) error
}

// IdleTimeoutHandler is the optional OnIdleTimeout callback: nothing was
// read or written for ServiceConfig.IdleTimeout (keepalive pings and pongs
// do not count). It runs again every period while the connection stays
// idle; the connection is not closed unless it returns a *CloseError.
type IdleTimeoutHandler interface {
	OnIdleTimeout(c *Conn) error
}

// CloseHandler is the optional OnClose callback. It runs exactly once per
// connection that was opened: when the peer's close frame arrives (before
// the echo is sent; code 1005 for an empty close frame), or when the
// connection ends otherwise, with the code it closed with (1006 and "" when
// the TCP connection dropped without a close frame).
type CloseHandler interface {
	OnClose(c *Conn, code int, reason string)
}

// ErrorHandler is the optional OnError callback: errors returned by other
// callbacks (the connection still open), and protocol errors, I/O errors
// and panics (after the connection was closed: the error matches
// net.ErrClosed).
type ErrorHandler interface {
	OnError(c *Conn, err error)
}

// ServiceFuncs is a Service made of functions, as http.HandlerFunc is a
// Handler; nil fields are absent callbacks (a nil OnPing keeps the
// automatic pong).
type ServiceFuncs struct {
	OnOpen          func(c *Conn) error
	OnTextMessage   func(c *Conn, text []byte) error
	OnBinaryMessage func(c *Conn, data []byte) error
	OnPing          func(c *Conn, data []byte) error
	OnPong          func(c *Conn, data []byte) error
	OnIdleTimeout   func(c *Conn) error
	OnClose         func(c *Conn, code int, reason string)
	OnError         func(c *Conn, err error)
}

// Echo is a Service that sends every text and binary message back.
var Echo Service = &ServiceFuncs{
	OnTextMessage:   func(c *Conn, text []byte) error { return c.WriteTextMessage(context.Background(), text) },
	OnBinaryMessage: func(c *Conn, data []byte) error { return c.WriteBinaryMessage(context.Background(), data) },
}

type (
	openFunc   func(c *Conn) error
	dataFunc   func(c *Conn, p []byte) error
	closeFunc  func(c *Conn, code int, reason string)
	errorFunc  func(c *Conn, err error)
	textFunc   dataFunc
	binaryFunc dataFunc
	pingFunc   dataFunc
	pongFunc   dataFunc
	idleFunc   openFunc
)

func (f openFunc) OnOpen(c *Conn) error                      { return f(c) }
func (f textFunc) OnTextMessage(c *Conn, p []byte) error     { return f(c, p) }
func (f binaryFunc) OnBinaryMessage(c *Conn, p []byte) error { return f(c, p) }
func (f pingFunc) OnPing(c *Conn, p []byte) error            { return f(c, p) }
func (f pongFunc) OnPong(c *Conn, p []byte) error            { return f(c, p) }
func (f idleFunc) OnIdleTimeout(c *Conn) error               { return f(c) }
func (f closeFunc) OnClose(c *Conn, code int, reason string) { f(c, code, reason) }
func (f errorFunc) OnError(c *Conn, err error)               { f(c, err) }

// hooks are a Service's callbacks, resolved once per connection (the method
// check is cached per dynamic type).
type hooks struct {
	open   OpenHandler
	text   TextMessageHandler
	binary BinaryMessageHandler
	ping   PingHandler
	pong   PongHandler
	idle   IdleTimeoutHandler
	close  CloseHandler
	err    ErrorHandler

	// typed are the callbacks found by reflection (binding.go), called on
	// svc; nil (and svc nil) for a Service without them.
	typed *typedHooks
	svc   Service
}

// sameHooks reports whether a and b are identical: the same dynamic types
// and the same data words in every hook, so that calling either calls the
// same methods on the same values. It compares the interface words rather
// than the values, which would panic for func-typed hooks (ServiceFuncs').
func sameHooks(a, b *hooks) bool {
	return *(*hookWords)(unsafe.Pointer(a)) == *(*hookWords)(unsafe.Pointer(b))
}

// hookWords is the memory of a hooks value: two words per interface, one
// for typed.
type hookWords [19]unsafe.Pointer

// hooks must be exactly hookWords (sameHooks).
const (
	_ uintptr = unsafe.Sizeof(hooks{}) - unsafe.Sizeof(hookWords{})
	_ uintptr = unsafe.Sizeof(hookWords{}) - unsafe.Sizeof(hooks{})
)

func resolveHooks(s Service) (hooks, error) {
	var h hooks
	if s == nil {
		return h, fmt.Errorf("websocket: Upgrade returned no Service")
	}
	if v, ok := s.(ServiceFuncs); ok { // by value, as in the docs' examples
		s = &v
	}
	if sf, ok := s.(*ServiceFuncs); ok {
		if sf == nil {
			return h, fmt.Errorf("websocket: Upgrade returned a nil *ServiceFuncs")
		}
		if sf.OnOpen != nil {
			h.open = openFunc(sf.OnOpen)
		}
		if sf.OnTextMessage != nil {
			h.text = textFunc(sf.OnTextMessage)
		}
		if sf.OnBinaryMessage != nil {
			h.binary = binaryFunc(sf.OnBinaryMessage)
		}
		if sf.OnPing != nil {
			h.ping = pingFunc(sf.OnPing)
		}
		if sf.OnPong != nil {
			h.pong = pongFunc(sf.OnPong)
		}
		if sf.OnIdleTimeout != nil {
			h.idle = idleFunc(sf.OnIdleTimeout)
		}
		if sf.OnClose != nil {
			h.close = closeFunc(sf.OnClose)
		}
		if sf.OnError != nil {
			h.err = errorFunc(sf.OnError)
		}
		return h, nil
	}
	if err := checkMethods(s); err != nil {
		return h, err
	}
	h.open, _ = s.(OpenHandler)
	h.text, _ = s.(TextMessageHandler)
	h.binary, _ = s.(BinaryMessageHandler)
	h.ping, _ = s.(PingHandler)
	h.pong, _ = s.(PongHandler)
	h.idle, _ = s.(IdleTimeoutHandler)
	h.close, _ = s.(CloseHandler)
	h.err, _ = s.(ErrorHandler)
	if h.typed = typedFor(reflect.TypeOf(s)); h.typed != nil {
		h.svc = s
	}
	return h, nil
}

// resolve resolves the hooks of a Service an upgrade returned, checking its
// custom dispatch methods against the Handler's configuration.
func (h *Handler) resolve(s Service) (hooks, error) {
	hk, err := resolveHooks(s)
	if err == nil {
		err = hk.typed.checkDispatch(reflect.TypeOf(s), &h.cc)
	}
	return hk, err
}

// checkStatic checks, at Attach, the ServiceConfig and the Service of an
// UpgradeService made by [Static], so that a malformed Service (OnMessage
// beside OnTextMessage, a custom method without DispatcherKey) is refused
// before any request.
func (h *Handler) checkStatic() error {
	if err := h.sc.Compression.check(); err != nil {
		return err
	}
	if st, ok := h.up.(staticUpgrade); ok {
		_, err := h.resolve(st.s)
		return err
	}
	return nil
}

// staticUpgrade is the UpgradeService of Static.
type staticUpgrade struct{ s Service }

// Upgrade returns the Service.
func (u staticUpgrade) Upgrade(*http.Request, http.Header) (Service, error) { return u.s, nil }

// serviceHooks are the callbacks a Service may have, with their exact
// signatures; a method named On* that is none of them is an error.
var serviceHooks = hookset.NewSet("websocket: Service").
	Allow("OnOpen", hookset.Sig[OpenHandler]("OnOpen")).
	Allow("OnTextMessage", hookset.Sig[TextMessageHandler]("OnTextMessage")).
	Allow("OnBinaryMessage", hookset.Sig[BinaryMessageHandler]("OnBinaryMessage")).
	Allow("OnPing", hookset.Sig[PingHandler]("OnPing")).
	Allow("OnPong", hookset.Sig[PongHandler]("OnPong")).
	Allow("OnIdleTimeout", hookset.Sig[IdleTimeoutHandler]("OnIdleTimeout")).
	Allow("OnClose", hookset.Sig[CloseHandler]("OnClose")).
	Allow("OnError", hookset.Sig[ErrorHandler]("OnError")).
	AllowShape(typedShape)

// checkMethods reports an error if s has a method named On* that is not one
// of the callbacks with its exact signature (a misspelled or
// Ballerina-shaped callback must not be silently ignored). The result is
// cached per dynamic type.
func checkMethods(s Service) error { return serviceHooks.CheckWith(s, typedProblems) }

// CheckService reports whether s's callbacks are well formed: an error
// names each method called On* that is not one of the callbacks with its
// exact signature, or a typed callback of the right shape (see [Service]).
// It checks s as served without custom dispatch (no DispatcherKey), so an
// On<X> method that only custom dispatch would call is an error here;
// Listener.Attach checks a [Static] Service against its ServiceConfig.
// Upgrades run the same check (cached per type) and answer 500 when it
// fails.
func CheckService(s Service) error {
	_, err := resolvePlain(s)
	return err
}

// resolvePlain resolves s's hooks for a connection without custom
// dispatch (CheckService, DialAsync).
func resolvePlain(s Service) (hooks, error) {
	hk, err := resolveHooks(s)
	if err == nil {
		err = hk.typed.checkDispatch(reflect.TypeOf(s), &connConfig{})
	}
	return hk, err
}
