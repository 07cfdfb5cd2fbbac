package websocket

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/netkit-go/netkit/internal/obs"
	"github.com/netkit-go/netkit/internal/wsproto"
)

// Defaults of ServiceConfig.
const (
	// DefaultMaxMessageSize bounds a reassembled, decompressed message.
	DefaultMaxMessageSize = 16 << 20
	// DefaultWriteTimeout bounds each server-side write.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultConnectionClosureTimeout bounds the wait for the close echo.
	DefaultConnectionClosureTimeout = 60 * time.Second
	// DefaultMaxPendingWrites caps the writers waiting on one connection.
	DefaultMaxPendingWrites = 64
)

// ServiceConfig configures the connections of one service (Ballerina's
// @websocket:ServiceConfig). The zero value (or nil) is valid; each field
// states its default.
type ServiceConfig struct {
	// SubProtocols are the subprotocols this service speaks, in order of
	// preference. When set, the client must offer one of them, or the
	// handshake fails with 400 (as Ballerina: "Invalid subprotocol").
	// Default: none, and any offer is ignored.
	SubProtocols []string
	// IdleTimeout calls OnIdleTimeout when nothing was read or written for
	// this long, and again every period. 0 or negative: off (Ballerina's
	// default).
	IdleTimeout time.Duration
	// MaxFrameSize bounds one inbound frame's payload, checked from its
	// header. 0: MaxMessageSize (browsers, Node and Python send a large
	// message as one frame; Ballerina's 65536 is one line away).
	// Negative: no limit. Over it: close 1009 and ErrPayloadTooLarge.
	MaxFrameSize int64
	// MaxMessageSize bounds a reassembled, decompressed message. 0: 16 MiB;
	// negative: no limit. Over it: close 1009.
	MaxMessageSize int64
	// FragmentSize splits outbound messages into frames of at most this
	// many payload bytes. 0 or negative: one frame per message.
	FragmentSize int
	// ConnectionClosureTimeout bounds the wait for the peer's close echo
	// (Conn.Close, a returned *CloseError, GracefulStop). 0: 60 s;
	// negative: wait forever (Ballerina's -1).
	ConnectionClosureTimeout time.Duration
	// WriteTimeout bounds each write, so a peer that stops reading costs
	// bounded time and memory. 0: 30 s; negative: none.
	WriteTimeout time.Duration
	// MaxPendingWrites caps the writers waiting on one connection; one more
	// gets ErrSendQueueFull. 0: 64.
	MaxPendingWrites int
	// PingInterval sends a keepalive ping when nothing was read for this
	// long. 0 or negative: off.
	PingInterval time.Duration
	// PongTimeout closes the connection (ErrPongTimeout to OnError) when a
	// keepalive ping gets no pong within it; the time a callback runs does
	// not count. 0: PingInterval.
	PongTimeout time.Duration
	// Compression configures permessage-deflate (on by default).
	Compression CompressionConfig
	// DispatcherKey names the top-level JSON field whose string value picks
	// the custom method a text message goes to (Ballerina's dispatcherKey;
	// see [Service]). Default: none, custom dispatch off.
	DispatcherKey string
	// DispatcherValues maps a DispatcherKey value to the method it goes to
	// (Ballerina's @DispatcherConfig{dispatcherValue}), overriding
	// [DispatchMethodName]. Each method must exist. Default: none.
	DispatcherValues map[string]string
	// Auth authenticates the upgrade request before the UpgradeService runs
	// (Ballerina's auth): the providers are tried in order, the first that
	// accepts the request's credentials decides; none accepting answers 401,
	// missing scopes 403, with the status text as the body (the refusal's
	// text with ExposeUpgradeErrors). The [Principal] is in the request's
	// context ([PrincipalFrom]) and on the Conn ([Conn.Principal]).
	// Default: none.
	Auth []ListenerAuth
	// CheckOrigin decides whether a request's Origin header is acceptable;
	// false answers 403. Nil: requests without Origin (non-browser clients)
	// and same-origin requests (the Origin's host equals the Host header,
	// case-insensitively) are accepted, as gorilla and coder/websocket do.
	CheckOrigin func(r *http.Request) bool
	// Logger receives handler errors and panics. Nil: the listener's, or
	// slog.Default().
	Logger *slog.Logger
	// MeterProvider, if set, receives the metrics of a standalone Handler's
	// (NewHandler) and of Accept's connections and upgrade requests
	// (docs/metrics.md; the http.route attribute is the pattern of the
	// http.ServeMux that routed the request). A Listener's services report
	// to ListenerConfig.MeterProvider: this field is ignored there.
	// Default: none.
	MeterProvider metric.MeterProvider
	// TracerProvider, if set, receives one span per upgrade request of a
	// standalone Handler and of Accept (ignored under a Listener, as
	// MeterProvider). Default: none.
	TracerProvider trace.TracerProvider
	// ExposeUpgradeErrors sends the text of an error returned by
	// UpgradeService.Upgrade as the refusal's body, as Ballerina does. By
	// default the body is the status text ("Bad Request"), so that an
	// internal error's text does not reach the peer; the error is logged at
	// Debug level. The Message of an *UpgradeError, *AuthnError or
	// *AuthzError is always the body: it was written for the peer.
	ExposeUpgradeErrors bool
}

// CompressionConfig configures permessage-deflate (RFC 7692), for a
// ServiceConfig and a ClientConfig alike. The zero value compresses
// messages of 128 bytes or more with flate.BestSpeed, keeps no compression
// context between messages, and accepts any window from the peer:
//
//   - a server accepts the first valid offer of a client, answering
//     server_no_context_takeover (unless ContextTakeover and the client
//     allows it), client_no_context_takeover when the client offered it,
//     server_max_window_bits when the client limited the server's window
//     (the server then sends Huffman-only output, which needs no window),
//     and client_max_window_bits only with PeerMaxWindowBits;
//   - a client offers "permessage-deflate; client_max_window_bits;
//     client_no_context_takeover" (without the last with ContextTakeover),
//     plus server_max_window_bits with PeerMaxWindowBits, and accepts the
//     server's answer within that offer (anything else fails the
//     handshake).
//
// The inflating side always holds a 32 KiB window while a message is
// being decompressed, whatever the window size.
type CompressionConfig struct {
	// Disable turns compression off (Ballerina's
	// webSocketCompressionEnabled: false).
	Disable bool
	// ContextTakeover keeps the compression window between messages
	// (better ratio, ~1 MiB per connection). Default: off.
	ContextTakeover bool
	// Level is the compress/flate level; 0: flate.BestSpeed.
	Level int
	// Threshold is the size under which messages go out uncompressed;
	// 0: 128; negative: compress everything.
	Threshold int
	// PeerMaxWindowBits (8 to 15) caps the peer's LZ77 window at
	// 2^PeerMaxWindowBits bytes: a server answers
	// client_max_window_bits=N (the smaller of it and the client's value)
	// and runs uncompressed with a client whose offer cannot take it; a
	// client requests server_max_window_bits=N and fails the handshake
	// when the answer exceeds it. 0: no cap.
	PeerMaxWindowBits int
}

func (c CompressionConfig) deflate() wsproto.DeflateConfig {
	return wsproto.DeflateConfig{ContextTakeover: c.ContextTakeover, Level: c.Level, Threshold: c.Threshold, PeerMaxWindowBits: c.PeerMaxWindowBits}
}

// check reports an invalid PeerMaxWindowBits.
func (c CompressionConfig) check() error {
	if b := c.PeerMaxWindowBits; b != 0 && (b < 8 || b > 15) {
		return errors.New("websocket: CompressionConfig.PeerMaxWindowBits must be 0 or 8 to 15, not " + strconv.Itoa(b))
	}
	return nil
}

// connConfig is a ServiceConfig with defaults applied.
type connConfig struct {
	maxFrame, maxMessage int64
	fragment             int
	closeTimeout         time.Duration // 0: forever
	writeTimeout         time.Duration // 0: none
	maxPending           int
	idle                 time.Duration
	pingInterval         time.Duration
	pongTimeout          time.Duration
	logger               *slog.Logger
	obs                  *obs.Set // the listener's or dialer's; nil: metrics off
	dispatchKey          string
	dispatchTo           map[string]string
}

func resolveDur(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

func (sc *ServiceConfig) resolve(logger *slog.Logger) connConfig {
	var s ServiceConfig
	if sc != nil {
		s = *sc
	}
	cc := connConfig{
		maxFrame:     s.MaxFrameSize,
		maxMessage:   s.MaxMessageSize,
		fragment:     s.FragmentSize,
		closeTimeout: resolveDur(s.ConnectionClosureTimeout, DefaultConnectionClosureTimeout),
		writeTimeout: resolveDur(s.WriteTimeout, DefaultWriteTimeout),
		maxPending:   s.MaxPendingWrites,
		logger:       s.Logger,
		dispatchKey:  s.DispatcherKey,
		dispatchTo:   s.DispatcherValues,
	}
	if cc.maxMessage == 0 {
		cc.maxMessage = DefaultMaxMessageSize
	}
	if cc.maxPending <= 0 {
		cc.maxPending = DefaultMaxPendingWrites
	}
	if s.IdleTimeout > 0 {
		cc.idle = s.IdleTimeout
	}
	if s.PingInterval > 0 {
		cc.pingInterval = s.PingInterval
		cc.pongTimeout = s.PongTimeout
		if cc.pongTimeout <= 0 {
			cc.pongTimeout = s.PingInterval
		}
	}
	if cc.logger == nil {
		cc.logger = logger
	}
	if cc.logger == nil {
		cc.logger = slog.Default()
	}
	return cc
}

// sameOrigin is the default CheckOrigin: no Origin header, or an Origin
// whose host equals the request's Host.
func sameOrigin(r *http.Request) bool {
	origin := r.Header["Origin"]
	if len(origin) == 0 {
		return true
	}
	u, err := url.Parse(origin[0])
	if err != nil {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}
