package obs

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of every meter and tracer.
const ScopeName = "github.com/netkit-go/netkit"

// Face names: the netkit.face attribute.
const (
	FaceTCP       = "tcp"
	FaceUDP       = "udp"
	FaceWebSocket = "websocket"
	FaceSocket    = "socket"
)

// Roles: the netkit.role attribute.
const (
	RoleServer = "server"
	RoleClient = "client"
)

// Stop kinds: the netkit.stop.kind attribute of netkit.stops.
const (
	StopGraceful  = "graceful"
	StopImmediate = "immediate"
)

// Drop reasons: the netkit.drop.reason attribute of
// netkit.websocket.dropped.messages.
const (
	// DropQueueFull: TrySend found the connection's send queue full.
	DropQueueFull = "queue_full"
)

// Attribute keys that OpenTelemetry does not define.
const (
	KeyFace        = attribute.Key("netkit.face")
	KeyRole        = attribute.Key("netkit.role")
	KeyStopKind    = attribute.Key("netkit.stop.kind")
	KeyDropReason  = attribute.Key("netkit.drop.reason")
	KeyMessageType = attribute.Key("websocket.message.type")
	KeyCloseCode   = attribute.Key("websocket.close.code")
)

// Semantic-convention attribute keys (stable OpenTelemetry names).
const (
	keyTransport   = attribute.Key("network.transport")
	keyNetType     = attribute.Key("network.type")
	keyProtoName   = attribute.Key("network.protocol.name")
	keyProtoVer    = attribute.Key("network.protocol.version")
	keyServerAddr  = attribute.Key("server.address")
	keyServerPort  = attribute.Key("server.port")
	keyErrorType   = attribute.Key("error.type")
	keyStatusCode  = attribute.Key("http.response.status_code")
	keyRoute       = attribute.Key("http.route")
	keyHTTPMethod  = attribute.Key("http.request.method")
	keyURLScheme   = attribute.Key("url.scheme")
	keyURLFull     = attribute.Key("url.full")
	keyNetPeerAddr = attribute.Key("network.peer.address")
)

// MsgType is a message's type for the websocket.message.type attribute.
type MsgType uint8

// Message types. MsgNone (tcp, udp, socket) adds no attribute.
const (
	MsgNone MsgType = iota
	MsgText
	MsgBinary
	numMsgTypes
)

// Config selects the providers of one Set.
type Config struct {
	// Face is the netkit.face attribute (FaceTCP, ...).
	Face string
	// Role is RoleServer or RoleClient.
	Role string
	// Transport is network.transport: "tcp" or "udp".
	Transport string
	// MeterProvider makes the instruments. Nil: no metrics.
	MeterProvider metric.MeterProvider
	// TracerProvider makes the spans. Nil: no spans.
	TracerProvider trace.TracerProvider
	// Propagator extracts and injects span contexts. Nil:
	// otel.GetTextMapPropagator() at the time of use.
	Propagator propagation.TextMapPropagator
}

// Set is the instruments and tracer of one listener or client. A nil *Set
// is valid and records nothing. Its methods are safe for concurrent use.
type Set struct {
	face, role string
	transport  string
	m          *instruments // nil: metrics off
	counts     *meterState  // the message counters (counts.go)
	tracer     trace.Tracer // nil: tracing off
	prop       propagation.TextMapPropagator
	v          atomic.Pointer[view]
	marks      sync.Map // key -> *ConnMark, for OpenKeyed
}

// HTTPVersion is the HTTP version a WebSocket server connection came over,
// for the network.protocol.version attribute of the connection
// instruments: OpenKeyedVersion.
type HTTPVersion uint8

// HTTP versions. HTTPNone adds no attribute.
const (
	HTTPNone HTTPVersion = iota
	HTTP11               // "1.1": an accepted connection, upgraded or not
	HTTP2                // "2": an HTTP/2 connection, and each WebSocket stream of it
	numHTTPVersions
)

var httpVersionNames = [numHTTPVersions]string{"", "1.1", "2"}

// view is the attribute options of a Set, rebuilt by Bind.
type view struct {
	// byVersion[v] is the view with network.protocol.version v (nil for
	// HTTPNone and outside the websocket face): what a connection opened
	// with OpenKeyedVersion is counted with.
	byVersion [numHTTPVersions]*view
	base      []attribute.KeyValue
	add       [numMsgTypes][]metric.AddOption
	rec       []metric.RecordOption
	msgs      [numMsgTypes]*msgCounts // nil when metrics are off
}

// New returns the Set for c, or nil when c has neither provider.
func New(c Config) *Set {
	if c.MeterProvider == nil && c.TracerProvider == nil {
		return nil
	}
	s := &Set{face: c.Face, role: c.Role, transport: c.Transport, prop: c.Propagator}
	if c.MeterProvider != nil {
		meter := c.MeterProvider.Meter(ScopeName)
		s.m = newInstruments(meter)
		s.counts = stateFor(c.MeterProvider, meter)
	}
	if c.TracerProvider != nil {
		s.tracer = c.TracerProvider.Tracer(ScopeName)
	}
	s.setView("", 0, "")
	return s
}

// Metrics reports whether s records metrics.
func (s *Set) Metrics() bool { return s != nil && s.m != nil }

// Tracing reports whether s records spans.
func (s *Set) Tracing() bool { return s != nil && s.tracer != nil }

// Bind sets server.address, server.port and network.type from addr (a
// listener's bound address, or the address a client connected to).
func (s *Set) Bind(addr net.Addr) {
	if s == nil || addr == nil {
		return
	}
	host, port := "", 0
	switch a := addr.(type) {
	case *net.TCPAddr:
		host, port = a.IP.String(), a.Port
	case *net.UDPAddr:
		host, port = a.IP.String(), a.Port
	default:
		h, p, err := net.SplitHostPort(addr.String())
		if err != nil {
			return
		}
		host = h
		port, _ = strconv.Atoi(p)
	}
	s.BindHostPort(host, port)
}

// BindHostPort sets server.address and server.port (and network.type when
// host is an IP address).
func (s *Set) BindHostPort(host string, port int) {
	if s == nil {
		return
	}
	netType := ""
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Unmap().Is4() {
			netType = "ipv4"
		} else {
			netType = "ipv6"
		}
	}
	s.setView(host, port, netType)
}

func (s *Set) setView(host string, port int, netType string) {
	base := []attribute.KeyValue{KeyFace.String(s.face), KeyRole.String(s.role)}
	if s.transport != "" {
		base = append(base, keyTransport.String(s.transport))
	}
	if s.face == FaceWebSocket {
		base = append(base, keyProtoName.String("websocket"))
	}
	if netType != "" {
		base = append(base, keyNetType.String(netType))
	}
	if host != "" {
		base = append(base, keyServerAddr.String(host))
	}
	if port != 0 {
		base = append(base, keyServerPort.Int(port))
	}
	v := s.makeView(base)
	if s.face == FaceWebSocket {
		for ver := HTTP11; ver < numHTTPVersions; ver++ {
			v.byVersion[ver] = s.makeView(append(base[:len(base):len(base)], keyProtoVer.String(httpVersionNames[ver])))
		}
	}
	s.v.Store(v)
}

func (s *Set) makeView(base []attribute.KeyValue) *view {
	v := &view{base: base}
	set := attribute.NewSet(base...)
	v.add[MsgNone] = []metric.AddOption{metric.WithAttributeSet(set)}
	v.rec = []metric.RecordOption{metric.WithAttributeSet(set)}
	text := attribute.NewSet(append(base[:len(base):len(base)], KeyMessageType.String("text"))...)
	binary := attribute.NewSet(append(base[:len(base):len(base)], KeyMessageType.String("binary"))...)
	v.add[MsgText] = []metric.AddOption{metric.WithAttributeSet(text)}
	v.add[MsgBinary] = []metric.AddOption{metric.WithAttributeSet(binary)}
	if s.counts != nil {
		v.msgs[MsgNone], v.msgs[MsgText], v.msgs[MsgBinary] = s.counts.counts(set), s.counts.counts(text), s.counts.counts(binary)
	}
	return v
}

// with returns the options of s's attributes plus kv (for the rare
// events: errors, stops, upgrades, close codes).
func (v *view) with(kv ...attribute.KeyValue) metric.MeasurementOption {
	all := make([]attribute.KeyValue, 0, len(v.base)+len(kv))
	all = append(append(all, v.base...), kv...)
	return metric.WithAttributes(all...)
}

// ConnMark is what ConnOpened returns, for the matching ConnClosed: the
// start time and the attributes the open was counted with (a Bind in
// between does not split the pair). A nil *ConnMark (metrics off) makes
// ConnClosed a no-op; so does a second ConnClosed.
type ConnMark struct {
	start    time.Time
	v        *view
	done     atomic.Bool
	upgraded atomic.Bool // counted in netkit.upgraded_connections (UpgradedKeyed)
}

// ConnOpened counts an opened connection. It returns nil when metrics are
// off.
func (s *Set) ConnOpened() *ConnMark { return s.connOpened(HTTPNone) }

func (s *Set) connOpened(ver HTTPVersion) *ConnMark {
	if s == nil || s.m == nil {
		return nil
	}
	v := s.v.Load()
	if ver < numHTTPVersions && v.byVersion[ver] != nil {
		v = v.byVersion[ver]
	}
	s.m.opened.Add(context.Background(), 1, v.add[MsgNone]...)
	s.m.active.Add(context.Background(), 1, v.add[MsgNone]...)
	return &ConnMark{start: time.Now(), v: v}
}

// ConnClosed counts the close of the connection that ConnOpened marked
// with m, and err's kind as an error when it is one (see ErrorKind). Only
// the first call for m counts.
func (s *Set) ConnClosed(m *ConnMark, err error) {
	if s == nil || s.m == nil || m == nil {
		return
	}
	s.ConnClosedKind(m, ErrorKind(err))
}

// ConnClosedKind is ConnClosed with the error kind already known ("" for
// none).
func (s *Set) ConnClosedKind(m *ConnMark, kind string) {
	if s == nil || s.m == nil || m == nil || m.done.Swap(true) {
		return
	}
	v := m.v
	ctx := context.Background()
	s.m.closed.Add(ctx, 1, v.add[MsgNone]...)
	s.m.active.Add(ctx, -1, v.add[MsgNone]...)
	if m.upgraded.Load() {
		s.m.upgraded.Add(ctx, -1, v.add[MsgNone]...)
	}
	s.m.duration.Record(ctx, time.Since(m.start).Seconds(), v.rec...)
	if kind != "" {
		s.m.errors.Add(ctx, 1, v.with(keyErrorType.String(kind)))
	}
}

// OpenKeyed is ConnOpened for a face that keeps no *ConnMark per
// connection (to keep an idle connection small): the mark is held here
// under key until CloseKeyed. A second OpenKeyed for key counts nothing.
func (s *Set) OpenKeyed(key any) { s.OpenKeyedVersion(key, HTTPNone) }

// OpenKeyedVersion is OpenKeyed for a WebSocket server connection that
// came over HTTP version ver: the connection instruments (opened, closed,
// active, upgraded, duration, and the errors counted at its close) carry
// network.protocol.version.
func (s *Set) OpenKeyedVersion(key any, ver HTTPVersion) {
	if s == nil || s.m == nil {
		return
	}
	if _, loaded := s.marks.Load(key); loaded {
		return
	}
	s.marks.Store(key, s.connOpened(ver)) // a face opens a connection on one goroutine
}

// UpgradedKeyed counts the connection opened with OpenKeyed under key as
// upgraded (netkit.upgraded_connections) until its close; only once, and
// nothing for a key not open.
func (s *Set) UpgradedKeyed(key any) {
	if s == nil || s.m == nil {
		return
	}
	if m, ok := s.marks.Load(key); ok {
		if m := m.(*ConnMark); m != nil && !m.done.Load() && !m.upgraded.Swap(true) {
			s.m.upgraded.Add(context.Background(), 1, m.v.add[MsgNone]...)
		}
	}
}

// CloseKeyed is ConnClosed for a connection opened with OpenKeyed; it
// counts only once, and nothing for a key never opened.
func (s *Set) CloseKeyed(key any, err error) {
	if s == nil || s.m == nil {
		return
	}
	if m, ok := s.marks.LoadAndDelete(key); ok {
		s.ConnClosed(m.(*ConnMark), err)
	}
}

// Received counts one message (a tcp read handed to a callback, a
// datagram, a WebSocket message) of n bytes received.
func (s *Set) Received(t MsgType, n int) {
	if s == nil || s.m == nil {
		return
	}
	c := s.v.Load().msgs[t]
	c.recvMsgs.Add(1)
	c.recvBytes.Add(int64(n))
}

// Sent counts one message of n bytes sent.
func (s *Set) Sent(t MsgType, n int) {
	if s == nil || s.m == nil {
		return
	}
	c := s.v.Load().msgs[t]
	c.sentMsgs.Add(1)
	c.sentBytes.Add(int64(n))
}

// Error counts an error of kind (one of the Kind constants).
func (s *Set) Error(kind string) {
	if s == nil || s.m == nil || kind == "" {
		return
	}
	s.m.errors.Add(context.Background(), 1, s.v.Load().with(keyErrorType.String(kind)))
}

// Stop counts a listener stop of kind (StopGraceful, StopImmediate).
func (s *Set) Stop(kind string) {
	if s == nil || s.m == nil {
		return
	}
	s.m.stops.Add(context.Background(), 1, s.v.Load().with(KeyStopKind.String(kind)))
}

// Upgrade counts a WebSocket upgrade request answered with status, for
// route (an attached path, or "" when none matched), that started at start
// (a zero start records no handshake duration).
func (s *Set) Upgrade(status int, route string, start time.Time) {
	if s == nil || s.m == nil {
		return
	}
	v := s.v.Load()
	kv := []attribute.KeyValue{keyStatusCode.Int(status)}
	if route != "" {
		kv = append(kv, keyRoute.String(route))
	}
	s.m.upgrades.Add(context.Background(), 1, v.with(kv...))
	if !start.IsZero() && status == 101 {
		s.m.handshake.Record(context.Background(), time.Since(start).Seconds(), v.rec...)
	}
}

// Handshake records the duration of a client's opening handshake that
// started at start.
func (s *Set) Handshake(start time.Time) {
	if s == nil || s.m == nil {
		return
	}
	s.m.handshake.Record(context.Background(), time.Since(start).Seconds(), s.v.Load().rec...)
}

// DialFailed counts a failed client dial (nil err: nothing) in
// netkit.errors.
func (s *Set) DialFailed(err error) {
	if s == nil || s.m == nil || err == nil {
		return
	}
	kind := ErrorKind(err)
	if kind == "" {
		kind = KindClosed
	}
	s.Error(kind)
}

// CloseSent counts a close frame sent with code.
func (s *Set) CloseSent(code int) {
	if s == nil || s.m == nil {
		return
	}
	s.m.closeSent.Add(context.Background(), 1, s.v.Load().with(KeyCloseCode.Int(CloseCode(code))))
}

// CloseReceived counts a close frame received with code (0: none in the
// frame, 1005).
func (s *Set) CloseReceived(code int) {
	if s == nil || s.m == nil {
		return
	}
	s.m.closeRecv.Add(context.Background(), 1, s.v.Load().with(KeyCloseCode.Int(CloseCode(code))))
}

// CloseCode folds a close code into a bounded set: the registered codes
// 1000-2999 as they are, 3000-3999 as 3000, 4000-4999 as 4000, anything
// else (invalid on the wire) as 0.
func CloseCode(code int) int {
	switch {
	case code >= 1000 && code <= 2999:
		return code
	case code >= 3000 && code <= 3999:
		return 3000
	case code >= 4000 && code <= 4999:
		return 4000
	}
	return 0
}

// Compressed records the ratio wire/raw of a compressed message.
func (s *Set) Compressed(raw, wire int) {
	if s == nil || s.m == nil || raw <= 0 {
		return
	}
	s.m.ratio.Record(context.Background(), float64(wire)/float64(raw), s.v.Load().rec...)
}

// Dropped counts a message dropped for reason (DropQueueFull).
func (s *Set) Dropped(reason string) {
	if s == nil || s.m == nil {
		return
	}
	s.m.dropped.Add(context.Background(), 1, s.v.Load().with(KeyDropReason.String(reason)))
}

// Truncated counts a datagram truncated on receipt.
func (s *Set) Truncated() {
	if s == nil || s.m == nil {
		return
	}
	s.m.truncated.Add(context.Background(), 1, s.v.Load().add[MsgNone]...)
}

// SendError counts a failed datagram send, by err's kind.
func (s *Set) SendError(err error) {
	if s == nil || s.m == nil {
		return
	}
	kind := ErrorKind(err)
	if kind == "" {
		kind = KindClosed
	}
	s.m.sendErrors.Add(context.Background(), 1, s.v.Load().with(keyErrorType.String(kind)))
}

func (s *Set) propagator() propagation.TextMapPropagator {
	if s.prop != nil {
		return s.prop
	}
	return otel.GetTextMapPropagator()
}

// SentN counts n messages of bytes bytes in all sent (a batch).
func (s *Set) SentN(n, bytes int) {
	if s == nil || s.m == nil || n == 0 {
		return
	}
	c := s.v.Load().msgs[MsgNone]
	c.sentMsgs.Add(int64(n))
	c.sentBytes.Add(int64(bytes))
}
