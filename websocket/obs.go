package websocket

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/netkit-go/netkit/internal/engine"
	"github.com/netkit-go/netkit/internal/obs"
	"github.com/netkit-go/netkit/internal/wsproto"
)

// The face's hooks into internal/obs (docs/metrics.md): the helpers that
// keep the hook points in the other files one line each.

// msgType maps a data opcode to its websocket.message.type.
func msgType(op wsproto.Opcode) obs.MsgType {
	if op == wsproto.OpText {
		return obs.MsgText
	}
	return obs.MsgBinary
}

// atoiPort is port as a number (0 if it is none).
func atoiPort(port string) int {
	n, _ := strconv.Atoi(port)
	return n
}

// failKind is the error.type of a connection failed with close code
// because of err.
func failKind(code int, err error) string {
	var pe *engine.PanicError
	if errors.As(err, &pe) {
		return obs.KindPanic
	}
	switch code {
	case wsproto.CloseMessageTooBig:
		return obs.KindTooLarge
	case wsproto.CloseInternalServerError:
		return obs.KindHandler
	}
	return obs.KindProtocol
}

// observed returns the listener's HTTP handler: l itself, or with metrics
// or traces on, l wrapped to count and trace each upgrade request (one
// span per upgrade, its parent extracted from the request's headers).
func (l *Listener) observed() http.Handler {
	if l.obs == nil {
		return l
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "" {
			l.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		route := l.route(r)
		r, span := l.obs.StartUpgrade(r, route)
		rec := &upgradeRecorder{ResponseWriter: w}
		l.ServeHTTP(rec, r)
		status := rec.result()
		obs.EndUpgrade(span, status)
		l.obs.Upgrade(status, route, start)
	})
}

// route returns the attached path r asks for, or "" (so that the
// http.route attribute only takes attached paths).
func (l *Listener) route(r *http.Request) string {
	p := cleanPath(r.URL.Path)
	l.mu.Lock()
	_, ok := l.routes[p]
	l.mu.Unlock()
	if !ok {
		return ""
	}
	return p
}

// upgradeRecorder notes the status a handler answered, or that it took
// the connection over (101).
type upgradeRecorder struct {
	http.ResponseWriter
	status   int
	hijacked bool
}

func (u *upgradeRecorder) WriteHeader(code int) {
	if u.status == 0 {
		u.status = code
	}
	u.ResponseWriter.WriteHeader(code)
}

func (u *upgradeRecorder) Write(p []byte) (int, error) {
	if u.status == 0 {
		u.status = http.StatusOK
	}
	return u.ResponseWriter.Write(p)
}

// Hijack is found by http.ResponseController before Unwrap.
func (u *upgradeRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(u.ResponseWriter).Hijack()
	if err == nil {
		u.hijacked = true
	}
	return nc, brw, err
}

func (u *upgradeRecorder) Unwrap() http.ResponseWriter { return u.ResponseWriter }

func (u *upgradeRecorder) result() int {
	switch {
	case u.hijacked && u.status == 0:
		return http.StatusSwitchingProtocols
	case u.status == 0:
		return http.StatusOK
	}
	return u.status
}

// observeDial starts a dial's span and returns its context and the func
// that ends it (and records the handshake's duration or error).
func (d *dialer) observeDial(ctx context.Context) (context.Context, func(error)) {
	o := d.cc.obs
	if o == nil {
		return ctx, func(error) {}
	}
	start := time.Now()
	ctx, span := o.StartDial(ctx, d.url.Scheme, d.url.Redacted())
	return ctx, func(err error) {
		obs.EndSpan(span, err)
		if err != nil {
			o.Error(dialKind(err))
			return
		}
		o.Handshake(start)
	}
}

// dialKind is the error.type of a failed dial.
func dialKind(err error) string {
	var hre *HandshakeResponseError
	if errors.As(err, &hre) {
		return obs.KindHandshake
	}
	if k := obs.ErrorKind(err); k != "" {
		return k
	}
	return obs.KindClosed
}
