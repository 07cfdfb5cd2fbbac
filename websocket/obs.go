package websocket

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

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

// obsConnState returns the listener's engine.Config.ConnState: with
// metrics on, every accepted connection (after its TLS handshake) counts
// as open until it closes, upgraded or not, as Kestrel counts its
// connections; nil with metrics off.
func (l *Listener) obsConnState() func(*engine.Conn, engine.ConnState) {
	if !l.obs.Metrics() {
		return nil
	}
	return func(c *engine.Conn, st engine.ConnState) {
		switch st {
		case engine.StateNew:
			// An HTTP/2 connection counts, and so does each WebSocket
			// stream of it (an engine connection of its own).
			l.obs.OpenKeyedVersion(c, httpVersionOf(c))
		case engine.StateClosed:
			l.obs.CloseKeyed(c, nil) // no-op if the session counted it, with its error
		}
	}
}

// obsOpen counts an opened session: a server's as upgraded (its
// connection counted open since accept, or now if it was adopted without
// the listener's engine), a client's as open (a no-op: counted at its
// dial).
func (s *session) obsOpen(ec *engine.Conn) {
	o := s.conn.cfg.obs
	if s.handler == nil {
		o.OpenKeyed(s.conn)
		return
	}
	o.OpenKeyedVersion(ec, httpVersionOf(ec))
	o.UpgradedKeyed(ec)
}

// httpVersionOf is the HTTP version a server connection came over: 2 for
// a TLS connection that negotiated h2 and its streams (their TLS state is
// the connection's), 1.1 otherwise.
func httpVersionOf(ec *engine.Conn) obs.HTTPVersion {
	if st := ec.TLS(); st != nil && st.NegotiatedProtocol == "h2" {
		return obs.HTTP2
	}
	return obs.HTTP11
}

// obsClose counts the session's close with err's kind.
func (s *session) obsClose(ec *engine.Conn, err error) {
	if s.handler == nil {
		s.conn.cfg.obs.CloseKeyed(s.conn, err)
		return
	}
	s.conn.cfg.obs.CloseKeyed(ec, err)
}

// upgradeObs is the observation of one upgrade request.
type upgradeObs struct {
	start time.Time
	route string
	span  trace.Span // nil: not observed
}

// observeUpgrade starts observing r when it is an upgrade request and the
// listener has metrics or traces: the span (its parent extracted from r's
// headers) and the start of the handshake. It returns r with the span's
// context, so that an UpgradeService sees it.
func (l *Listener) observeUpgrade(r *http.Request) (*http.Request, upgradeObs) {
	if l.obs == nil || !isUpgradeRequest(r) {
		return r, upgradeObs{}
	}
	o := upgradeObs{start: time.Now(), route: l.route(r)}
	r, o.span = l.obs.StartUpgrade(r, o.route)
	return r, o
}

// upgradeDone counts the upgrade request observed by o as answered with
// status and ends its span.
func (l *Listener) upgradeDone(o upgradeObs, status int) {
	if o.span == nil {
		return
	}
	obs.EndUpgrade(o.span, status)
	l.obs.Upgrade(status, o.route, o.start)
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

// observeHTTP serves r with serve, observed by o as an upgrade request
// for route: its span (the parent extracted from r's headers) and the
// count of its answer: 101 when serve takes the connection over, counted
// then (before the 101 is written, so that a peer that saw it sees it
// counted). It is the path of a standalone Handler and of a Listener
// mounted in another server (a Listener's own connections are observed in
// httpconn.go).
func observeHTTP(o *obs.Set, route string, w http.ResponseWriter, r *http.Request, serve func(http.ResponseWriter, *http.Request)) {
	start := time.Now()
	r, span := o.StartUpgrade(r, route)
	done := func(status int) {
		obs.EndUpgrade(span, status)
		o.Upgrade(status, route, start)
	}
	rec := &statusRecorder{ResponseWriter: w, onHijack: func() { done(http.StatusSwitchingProtocols) }}
	serve(rec, r)
	if rec.hijacked {
		return
	}
	status := rec.status
	if status == 0 {
		status = http.StatusOK // what net/http answers for a handler that wrote nothing
	}
	done(status)
}

// Hijack takes the connection over (http.NewResponseController finds it
// here) and notes that it did.
func (s *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(s.ResponseWriter).Hijack()
	if err == nil {
		s.hijacked = true
		if s.onHijack != nil {
			s.onHijack()
		}
	}
	return nc, brw, err
}

// Unwrap is the ResponseWriter s records (for http.ResponseController).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// patternRoute is the path of the http.ServeMux pattern that routed r
// ("GET example.com/ws/{id}" gives "/ws/{id}"), or "": a bounded route
// for the http.route attribute of a standalone Handler and of Accept.
func patternRoute(r *http.Request) string {
	if i := strings.IndexByte(r.Pattern, '/'); i >= 0 {
		return r.Pattern[i:]
	}
	return ""
}

// serviceSets are the Sets of the standalone Handlers and of Accept, one
// per pair of providers (Accept is called per request).
var serviceSets sync.Map // serviceProviders -> *obs.Set

type serviceProviders struct {
	mp metric.MeterProvider
	tp trace.TracerProvider
}

// serviceObs returns the Set of sc's providers, or nil when it has none.
func serviceObs(sc *ServiceConfig) *obs.Set {
	if sc.MeterProvider == nil && sc.TracerProvider == nil {
		return nil
	}
	mk := func() *obs.Set {
		return obs.New(obs.Config{Face: obs.FaceWebSocket, Role: obs.RoleServer, Transport: "tcp",
			MeterProvider: sc.MeterProvider, TracerProvider: sc.TracerProvider})
	}
	if (sc.MeterProvider != nil && !reflect.TypeOf(sc.MeterProvider).Comparable()) ||
		(sc.TracerProvider != nil && !reflect.TypeOf(sc.TracerProvider).Comparable()) {
		return mk()
	}
	key := serviceProviders{sc.MeterProvider, sc.TracerProvider}
	if o, ok := serviceSets.Load(key); ok {
		return o.(*obs.Set)
	}
	o, _ := serviceSets.LoadOrStore(key, mk())
	return o.(*obs.Set)
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
	var hre *InvalidHandshakeError
	if errors.As(err, &hre) {
		return obs.KindHandshake
	}
	if k := obs.ErrorKind(err); k != "" {
		return k
	}
	return obs.KindClosed
}
