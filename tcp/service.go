package tcp

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// Service is attached to a [Listener]. OnConnect runs for each accepted
// connection and returns the [ConnectionService] that serves it. Returning
// (nil, nil) or an error closes that connection (OnClose is not called).
type Service interface {
	OnConnect(c *Caller) (ConnectionService, error)
}

// ConnectionService serves one connection. OnBytes receives each chunk of
// data read; data is borrowed until OnBytes returns. A non-nil reply is
// written back before the next read (it may be data itself). A returned
// error is logged and passed to OnError; the connection stays open.
type ConnectionService interface {
	OnBytes(c *Caller, data []byte) (reply []byte, err error)
}

// ErrorHandler is the optional OnError hook of a ConnectionService. It is
// told of I/O errors and handler panics (after the connection closed) and of
// errors returned by OnBytes (with the connection still open).
type ErrorHandler interface {
	OnError(c *Caller, err error)
}

// CloseHandler is the optional OnClose hook of a ConnectionService. It runs
// exactly once, after the connection closed.
type CloseHandler interface {
	OnClose(c *Caller)
}

// ServiceFunc adapts a function to a [Service].
type ServiceFunc func(c *Caller) (ConnectionService, error)

// OnConnect calls f(c).
func (f ServiceFunc) OnConnect(c *Caller) (ConnectionService, error) { return f(c) }

// BytesFunc adapts a function to a [ConnectionService].
type BytesFunc func(c *Caller, data []byte) ([]byte, error)

// OnBytes calls f(c, data).
func (f BytesFunc) OnBytes(c *Caller, data []byte) ([]byte, error) { return f(c, data) }

// Echo is a ConnectionService that writes back what it receives.
var Echo ConnectionService = BytesFunc(func(_ *Caller, data []byte) ([]byte, error) { return data, nil })

// EchoService is a Service whose connections echo.
var EchoService Service = ServiceFunc(func(*Caller) (ConnectionService, error) { return Echo, nil })

// hooks are a ConnectionService's optional callbacks, resolved once per
// dynamic type.
type hooks struct {
	onError ErrorHandler
	onClose CloseHandler
}

var hookCheck sync.Map // reflect.Type -> error (nil when fine)

// checkMethods reports an error if v has a method named On* that is not one
// of the allowed hooks with its exact signature: a misspelled or
// Ballerina-shaped callback must not be silently ignored.
func checkMethods(v any, what string, allowed map[string]reflect.Type) error {
	t := reflect.TypeOf(v)
	if t == nil {
		return nil
	}
	if cached, ok := hookCheck.Load(t); ok {
		if cached == nil {
			return nil
		}
		return cached.(error)
	}
	var problems []string
	for i := 0; i < t.NumMethod(); i++ {
		m := t.Method(i)
		if !strings.HasPrefix(m.Name, "On") {
			continue
		}
		want, ok := allowed[m.Name]
		if !ok {
			problems = append(problems, fmt.Sprintf("unknown callback %s", m.Name))
			continue
		}
		// m.Type includes the receiver; compare the method's signature.
		if got := methodSig(m.Type); got.String() != want.String() {
			problems = append(problems, fmt.Sprintf("%s has signature %s, want %s", m.Name, got, want))
		}
	}
	var err error
	if len(problems) > 0 {
		err = fmt.Errorf("tcp: %s %s: %s", what, t, strings.Join(problems, "; "))
	}
	hookCheck.Store(t, err)
	return err
}

func methodSig(ft reflect.Type) reflect.Type {
	in := make([]reflect.Type, 0, ft.NumIn()-1)
	for i := 1; i < ft.NumIn(); i++ {
		in = append(in, ft.In(i))
	}
	out := make([]reflect.Type, 0, ft.NumOut())
	for i := 0; i < ft.NumOut(); i++ {
		out = append(out, ft.Out(i))
	}
	return reflect.FuncOf(in, out, ft.IsVariadic())
}

func sigOf[T any](method string) reflect.Type {
	m, _ := reflect.TypeFor[T]().MethodByName(method)
	return m.Type
}

var (
	serviceMethods = map[string]reflect.Type{"OnConnect": sigOf[Service]("OnConnect")}
	connMethods    = map[string]reflect.Type{
		"OnBytes": sigOf[ConnectionService]("OnBytes"),
		"OnError": sigOf[ErrorHandler]("OnError"),
		"OnClose": sigOf[CloseHandler]("OnClose"),
	}
)

func resolveHooks(cs ConnectionService) (hooks, error) {
	if err := checkMethods(cs, "ConnectionService", connMethods); err != nil {
		return hooks{}, err
	}
	var h hooks
	h.onError, _ = cs.(ErrorHandler)
	h.onClose, _ = cs.(CloseHandler)
	return h, nil
}
