package tcp

import "github.com/netkit-go/netkit/internal/hooks"

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
type callbacks struct {
	onError ErrorHandler
	onClose CloseHandler
}

var (
	serviceHooks = hooks.NewSet("tcp: Service").Allow("OnConnect", hooks.Sig[Service]("OnConnect"))
	connHooks    = hooks.NewSet("tcp: ConnectionService").
			Allow("OnBytes", hooks.Sig[ConnectionService]("OnBytes")).
			Allow("OnError", hooks.Sig[ErrorHandler]("OnError")).
			Allow("OnClose", hooks.Sig[CloseHandler]("OnClose"))
)

func resolveHooks(cs ConnectionService) (callbacks, error) {
	if err := connHooks.Check(cs); err != nil {
		return callbacks{}, err
	}
	var h callbacks
	h.onError, _ = cs.(ErrorHandler)
	h.onClose, _ = cs.(CloseHandler)
	return h, nil
}
