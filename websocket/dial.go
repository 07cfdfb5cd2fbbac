package websocket

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/netkit-go/netkit/internal/engine"
	"github.com/netkit-go/netkit/internal/obs"
	"github.com/netkit-go/netkit/internal/tlsconf"
	"github.com/netkit-go/netkit/internal/wsproto"
	"github.com/netkit-go/netkit/tlsconfig"
)

// DefaultHandshakeTimeout bounds a client's opening handshake (TCP
// connect, proxy CONNECT, TLS and the HTTP upgrade), as Ballerina's
// handShakeTimeout of 300 s.
const DefaultHandshakeTimeout = 300 * time.Second

// ClientConfig configures [Dial] and [DialAsync] (Ballerina's
// ClientConfiguration). The zero value (or nil) is valid; each field
// states its default.
type ClientConfig struct {
	// SubProtocols are offered in Sec-WebSocket-Protocol, most preferred
	// first. Default: none.
	SubProtocols []string
	// CustomHeaders are added to the upgrade request (Ballerina's
	// customHeaders). The WebSocket headers themselves cannot be
	// overridden. A "Host" entry sets the request's Host.
	CustomHeaders http.Header
	// Cookies are sent in one Cookie header, longest Path first (RFC 6265
	// §5.4, as Ballerina). Default: none.
	Cookies []*http.Cookie
	// Auth adds credentials to the upgrade request: [BasicAuth],
	// [BearerAuth], [OAuth2ClientCredentials] or any [Authenticator].
	// Failing to obtain them is an [ErrAuth] error. Default: none.
	Auth Authenticator
	// ReadTimeout bounds each read of a [Client] (Ballerina's readTimeout):
	// when it passes, the read returns ErrReadTimedOut, nothing is lost and
	// the next read goes on. 0 or negative: none (Ballerina's -1).
	ReadTimeout time.Duration
	// WriteTimeout bounds each write (Ballerina's writeTimeout); a timed-out
	// write returns ErrWriteTimedOut. 0 or negative: none (Ballerina's -1).
	WriteTimeout time.Duration
	// HandshakeTimeout bounds the opening handshake: connecting, the proxy
	// CONNECT, TLS and the HTTP upgrade. When it passes Dial returns an
	// [ErrHandshakeTimedOut] error. 0: 300 s; negative: bounded by ctx only.
	HandshakeTimeout time.Duration
	// ConnectionClosureTimeout bounds Close's wait for the server's echo.
	// 0: 60 s; negative: wait forever.
	ConnectionClosureTimeout time.Duration
	// SecureSocket configures TLS for wss URLs, with the tlsconfig types, as tcp
	// (trust a PEM cert or PKCS#12 store, mutual TLS, host-name
	// verification unless SkipHostNameVerification, a session cache shared
	// by every dial with the same *ClientSecureSocket, retries included).
	// Nil: the system roots. ALPN offers http/1.1 only (h2 first with
	// HTTP2). Ignored for ws URLs.
	SecureSocket *tlsconfig.ClientSecureSocket
	// HTTP2 dials wss URLs over HTTP/2 (RFC 8441): the opening handshake is
	// an extended CONNECT (:protocol websocket) on a connection of
	// HTTP2Pool, shared with the other HTTP2 clients of the same origin, and
	// the WebSocket is one stream of it. When the server does not take it
	// (ALPN chooses http/1.1, or its SETTINGS lack
	// SETTINGS_ENABLE_CONNECT_PROTOCOL), the dial falls back to an HTTP/1.1
	// upgrade on a connection of its own; [Client.HTTPVersion] ("2" or
	// "1.1", and the HandshakeResponse's Proto) says which was used. Every other field
	// applies as over HTTP/1.1, proxies included (the TLS session, with
	// ALPN h2, runs inside the CONNECT tunnel). Ignored for ws URLs: there
	// is no cleartext (h2c) variant. Default: off.
	HTTP2 bool
	// HTTP2Pool holds the shared HTTP/2 connections (see [HTTP2Pool] for
	// its bounds). Nil: DefaultHTTP2Pool.
	HTTP2Pool *HTTP2Pool
	// TLSConfig is a base TLS configuration (cloned; SecureSocket applied on
	// top). Nil: none.
	TLSConfig *tls.Config
	// MaxFrameSize bounds one inbound frame's payload, checked from its
	// header before allocating. 0: MaxMessageSize (Ballerina's 65536 is one
	// line away). Negative: no limit. Over it: close 1009 and
	// [ErrPayloadTooLarge].
	MaxFrameSize int64
	// MaxMessageSize bounds a reassembled, decompressed message. 0: 16 MiB;
	// negative: no limit.
	MaxMessageSize int64
	// FragmentSize splits outbound messages into frames of at most this
	// many payload bytes. 0 or negative: one frame per message.
	FragmentSize int
	// MaxPendingWrites caps the writers waiting on the connection; one more
	// gets ErrSendQueueFull. 0: 64.
	MaxPendingWrites int
	// Compression configures permessage-deflate: offered by default, used
	// when the server accepts (Ballerina's webSocketCompressionEnabled).
	Compression CompressionConfig
	// IdleTimeout calls an AsyncClient Service's OnIdleTimeout when nothing
	// was read or written for this long, and again every period. 0 or
	// negative: off (Ballerina's -1).
	IdleTimeout time.Duration
	// PingInterval sends a keepalive ping when nothing was received for
	// this long (Ballerina has none: beyond it). An AsyncClient pings from
	// its loop, as a server connection; a Client pings while a Read waits
	// (its connection is idle between reads). 0 or negative: off.
	PingInterval time.Duration
	// PongTimeout ends the connection with ErrPongTimeout (returned by the
	// Client's Read, passed to an AsyncClient's OnError) when nothing
	// arrives within it after a keepalive ping. 0: PingInterval.
	PongTimeout time.Duration
	// PingPongHandler receives the pings and pongs that arrive while a
	// [Client] reads (Ballerina's pingPongHandler): a [PingHandler] must
	// answer pings itself (Conn.Pong); a [PongHandler] sees pongs. It must
	// implement at least one of them, and no other On* method. Default:
	// pings are answered automatically, pongs dropped. (An AsyncClient's
	// Service has its own OnPing and OnPong.)
	PingPongHandler Service
	// Retry reconnects after an abnormal closure, an I/O error or a
	// keepalive pong timeout ([ErrPongTimeout]) of a
	// [Client]'s read or write (see [RetryConfig]), or of an
	// [AsyncClient]'s connection (which then runs OnOpen again). Nil: no
	// retry.
	Retry *RetryConfig
	// Proxy returns the proxy for a request (an http or https URL; the
	// client tunnels with CONNECT). Nil: http.ProxyFromEnvironment
	// (HTTPS_PROXY for wss, HTTP_PROXY for ws, NO_PROXY; loopback
	// addresses are never proxied). Use [NoProxy] to connect directly.
	Proxy func(*http.Request) (*url.URL, error)
	// Dialer makes the TCP connection (to the proxy, if any). Nil: a
	// net.Dialer with 30 s keepalive.
	Dialer *net.Dialer
	// Logger receives callback errors and panics (AsyncClient). Nil:
	// slog.Default().
	Logger *slog.Logger
	// MeterProvider, if set, receives the client's metrics
	// (docs/metrics.md). Nil: none, at no cost.
	MeterProvider metric.MeterProvider
	// TracerProvider, if set, receives one span per dial (and redial),
	// whose context is injected into the upgrade request with
	// otel.GetTextMapPropagator(). Nil: none.
	TracerProvider trace.TracerProvider
}

// NoProxy is a ClientConfig.Proxy that never uses a proxy.
func NoProxy(*http.Request) (*url.URL, error) { return nil, nil }

// ProxyError is returned by Dial when the CONNECT proxy refused or failed
// the tunnel. Status is the proxy's answer (0 if none).
type ProxyError struct {
	Proxy  string
	Status int
	Err    error
}

// Error returns the message.
func (e *ProxyError) Error() string {
	msg := "websocket: proxy " + e.Proxy
	if e.Status != 0 {
		msg += " answered CONNECT with " + strconv.Itoa(e.Status) + " " + http.StatusText(e.Status)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *ProxyError) Unwrap() error { return e.Err }

// malformedURLErr is an ErrMalformedURL error for raw.
func malformedURLErr(raw, why string, cause error) error {
	return &kindError{kind: ErrMalformedURL, msg: "websocket: malformed URL " + strconv.Quote(raw) + ": " + why, err: cause}
}

// maxErrorBody bounds the body of a refused handshake kept in the error.
const maxErrorBody = 64 << 10

// dialer holds a resolved ClientConfig and the target; it dials and
// redials (Retry).
type dialer struct {
	url      *url.URL
	secure   bool
	hostPort string // target host:port
	cfg      ClientConfig
	cc       connConfig
	ecfg     engine.ConnConfig
	deflate  *wsproto.DeflateConfig
	hsTime   time.Duration // 0: none
	pingPong hooks
	ss       *tlsconfig.ClientSecureSocket // SecureSocket, or a default one
}

// parseURL checks a ws or wss URL.
func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, malformedURLErr(raw, err.Error(), err)
	}
	switch strings.ToLower(u.Scheme) {
	case "ws", "wss":
	default:
		return nil, malformedURLErr(raw, "the scheme must be ws or wss", nil)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, malformedURLErr(raw, "no host", nil)
	}
	if u.Fragment != "" {
		return nil, malformedURLErr(raw, "a WebSocket URL has no fragment", nil)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n <= 0 || n > 65535 {
			return nil, malformedURLErr(raw, "invalid port "+p, nil)
		}
	}
	return u, nil
}

func newDialer(raw string, cfg *ClientConfig) (*dialer, error) {
	u, err := parseURL(raw)
	if err != nil {
		return nil, err
	}
	d := &dialer{url: u}
	if cfg != nil {
		d.cfg = *cfg
	}
	d.secure = strings.EqualFold(u.Scheme, "wss") && (d.cfg.SecureSocket == nil || !d.cfg.SecureSocket.Disable)
	port := u.Port()
	if port == "" {
		port = "80"
		if strings.EqualFold(u.Scheme, "wss") {
			port = "443"
		}
	}
	d.hostPort = net.JoinHostPort(u.Hostname(), port)
	d.ss = d.cfg.SecureSocket
	if d.ss == nil && d.cfg.TLSConfig == nil {
		// The system roots, with a session cache shared by this client's
		// redials (the cache is per *ClientSecureSocket).
		d.ss = &tlsconfig.ClientSecureSocket{}
	}
	sc := ServiceConfig{
		MaxFrameSize:             d.cfg.MaxFrameSize,
		MaxMessageSize:           d.cfg.MaxMessageSize,
		FragmentSize:             d.cfg.FragmentSize,
		ConnectionClosureTimeout: d.cfg.ConnectionClosureTimeout,
		WriteTimeout:             -1,
		MaxPendingWrites:         d.cfg.MaxPendingWrites,
		Compression:              d.cfg.Compression,
		IdleTimeout:              d.cfg.IdleTimeout,
		PingInterval:             d.cfg.PingInterval,
		PongTimeout:              d.cfg.PongTimeout,
		Logger:                   d.cfg.Logger,
	}
	if d.cfg.WriteTimeout > 0 {
		sc.WriteTimeout = d.cfg.WriteTimeout
	}
	d.cc = sc.resolve(nil)
	d.cc.obs = obs.New(obs.Config{Face: obs.FaceWebSocket, Role: obs.RoleClient, Transport: "tcp", MeterProvider: d.cfg.MeterProvider, TracerProvider: d.cfg.TracerProvider})
	d.cc.obs.BindHostPort(u.Hostname(), atoiPort(port))
	d.ecfg = d.cc.engineConfig()
	if !d.cfg.Compression.Disable {
		dc := d.cfg.Compression.deflate()
		d.deflate = &dc
	}
	d.hsTime = resolveDur(d.cfg.HandshakeTimeout, DefaultHandshakeTimeout)
	if d.cfg.PingPongHandler != nil {
		h, err := resolveHooks(d.cfg.PingPongHandler)
		if err != nil || (h.ping == nil && h.pong == nil) || h.open != nil || h.text != nil ||
			h.binary != nil || h.idle != nil || h.close != nil || h.err != nil {
			return nil, errors.New("websocket: the callback service should be a PingPongService")
		}
		d.pingPong = h
	}
	if err := d.cfg.Compression.check(); err != nil {
		return nil, err
	}
	if d.cfg.Retry != nil {
		if err := d.cfg.Retry.check(); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// handshake is a completed opening handshake.
type handshake struct {
	nc       net.Conn
	buffered []byte
	resp     *http.Response
	result   wsproto.HandshakeResult
}

// dial connects and runs the opening handshake, bounded by ctx and
// HandshakeTimeout.
func (d *dialer) dial(ctx context.Context) (hs *handshake, err error) {
	ctx, end := d.observeDial(ctx)
	defer func() { end(err) }()
	if d.hsTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, d.hsTime, errHandshakeTimeout)
		defer cancel()
	}
	hs, err = d.dialCtx(ctx)
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return nil, ctx.Err()
		}
		// The socket deadline is ctx's: it may fire just before ctx's timer.
		if ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, &kindError{kind: ErrHandshakeTimedOut, msg: "websocket: handshake timed out: " + err.Error(), err: err, timeout: true}
		}
		return nil, err
	}
	return hs, nil
}

var errHandshakeTimeout = &timeoutError{"websocket: handshake timed out"}

func (d *dialer) dialCtx(ctx context.Context) (*handshake, error) {
	req, ch, err := d.request(ctx)
	if err != nil {
		return nil, err
	}
	if d.cfg.HTTP2 && d.secure {
		hs, err := d.dialH2(ctx, req, ch)
		if err != errH2Fallback {
			return hs, err
		}
	}
	pu, err := d.proxyURL(req)
	if err != nil {
		return nil, err
	}
	nc, err := d.connectVia(ctx, pu)
	if err != nil {
		return nil, err
	}
	if d.secure {
		tc, err := d.tlsHandshake(ctx, nc, []string{"http/1.1"})
		if err != nil {
			return nil, err
		}
		nc = tc
	}
	return d.upgrade(ctx, req, ch, nc)
}

// request builds the opening handshake's request (HTTP/1.1 form; dialH2
// derives the extended CONNECT from it).
func (d *dialer) request(ctx context.Context) (*http.Request, *wsproto.ClientHandshake, error) {
	req := &http.Request{
		Method:     http.MethodGet,
		URL:        &url.URL{Scheme: "http", Host: d.url.Host, Path: d.url.Path, RawPath: d.url.RawPath, RawQuery: d.url.RawQuery},
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     make(http.Header),
		Host:       d.url.Host,
	}
	if d.secure || strings.EqualFold(d.url.Scheme, "wss") {
		req.URL.Scheme = "https"
	}
	if req.URL.Path == "" {
		req.URL.Path = "/"
	}
	for k, vs := range d.cfg.CustomHeaders {
		if strings.EqualFold(k, "Host") {
			if len(vs) > 0 {
				req.Host = vs[0]
			}
			continue
		}
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if len(d.cfg.Cookies) > 0 {
		cs := append([]*http.Cookie(nil), d.cfg.Cookies...)
		sort.SliceStable(cs, func(i, j int) bool { return len(cs[i].Path) > len(cs[j].Path) })
		parts := make([]string, 0, len(cs))
		for _, c := range cs {
			parts = append(parts, (&http.Cookie{Name: c.Name, Value: c.Value, Quoted: c.Quoted}).String())
		}
		req.Header.Set("Cookie", strings.Join(parts, "; "))
	}
	if d.cfg.Auth != nil {
		if err := d.cfg.Auth.Authenticate(ctx, req); err != nil {
			return nil, nil, &kindError{kind: ErrAuth, msg: "websocket: auth failed: " + err.Error(), err: err}
		}
	}
	ch := &wsproto.ClientHandshake{Key: wsproto.NewClientKey(), Subprotocols: d.cfg.SubProtocols, Deflate: d.deflate}
	ch.SetRequestHeaders(req.Header)
	d.cc.obs.Inject(ctx, req.Header)
	return req, ch, nil
}

// tlsHandshake runs TLS towards the target on nc, offering protos with
// ALPN. It closes nc when it fails.
func (d *dialer) tlsHandshake(ctx context.Context, nc net.Conn, protos []string) (*tls.Conn, error) {
	tc, err := d.tlsClient(nc, d.url.Hostname(), protos)
	if err != nil {
		nc.Close()
		return nil, err
	}
	var hsTimeout time.Duration
	if d.cfg.SecureSocket != nil {
		hsTimeout = d.cfg.SecureSocket.HandshakeTimeout
	}
	if err := tlsconf.Handshake(ctx, tc, hsTimeout); err != nil {
		nc.Close()
		return nil, err
	}
	return tc, nil
}

// upgrade runs the HTTP/1.1 upgrade on nc (closed when it fails).
func (d *dialer) upgrade(ctx context.Context, req *http.Request, ch *wsproto.ClientHandshake, nc net.Conn) (*handshake, error) {
	ok := false
	defer func() {
		if !ok {
			nc.Close()
		}
	}()
	stop := bindDeadline(ctx, nc)
	if err := req.Write(nc); err != nil {
		stop()
		return nil, connErr(err)
	}
	br := bufio.NewReaderSize(nc, 4096)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		stop()
		return nil, connErr(err)
	}
	res, err := wsproto.CheckResponse(resp, ch)
	if err != nil {
		err = handshakeFailed(resp, err, http.StatusSwitchingProtocols) // reads the body, still bounded by ctx
		stop()
		return nil, err
	}
	if !stop() {
		return nil, ctx.Err()
	}
	nc.SetDeadline(time.Time{})
	hs := &handshake{nc: nc, resp: resp, result: res}
	if n := br.Buffered(); n > 0 {
		p, _ := br.Peek(n)
		hs.buffered = append([]byte(nil), p...)
	}
	resp.Body = http.NoBody
	ok = true
	return hs, nil
}

// bindDeadline makes ctx's deadline and cancellation apply to nc's I/O. The
// returned stop reports false if ctx had already ended.
func bindDeadline(ctx context.Context, nc net.Conn) (stop func() bool) {
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	after := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	return after
}

// handshakeFailed turns a refused upgrade into an *InvalidHandshakeError,
// keeping the response and its (bounded) body. okStatus is the success
// status (101, or 200 for HTTP/2): with it, err says what was wrong.
func handshakeFailed(resp *http.Response, err error, okStatus int) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	msg := "the server answered " + resp.Status
	if resp.StatusCode == okStatus {
		msg = err.Error()
	} else {
		err = nil
	}
	return &InvalidHandshakeError{Status: resp.StatusCode, Message: msg, Response: resp, Err: err}
}

// tlsClient wraps nc in TLS towards host (SNI and verification use the
// target, also behind a proxy).
func (d *dialer) tlsClient(nc net.Conn, host string, protos []string) (*tls.Conn, error) {
	conf, err := tlsconf.ClientConfig(d.ss, d.cfg.TLSConfig, host)
	if err != nil {
		return nil, err
	}
	conf.NextProtos = protos
	return tls.Client(nc, conf), nil
}

func (d *dialer) netDialer() *net.Dialer {
	if d.cfg.Dialer != nil {
		return d.cfg.Dialer
	}
	return &net.Dialer{KeepAlive: 30 * time.Second}
}

// proxyURL returns the proxy for req, or nil.
func (d *dialer) proxyURL(req *http.Request) (*url.URL, error) {
	proxy := d.cfg.Proxy
	if proxy == nil {
		proxy = http.ProxyFromEnvironment
	}
	pu, err := proxy(req)
	if err != nil {
		return nil, &ProxyError{Proxy: "(from Proxy func)", Err: err}
	}
	return pu, nil
}

// connectVia opens the TCP connection to the target, through the proxy pu
// if not nil.
func (d *dialer) connectVia(ctx context.Context, pu *url.URL) (net.Conn, error) {
	if pu == nil {
		nc, err := d.netDialer().DialContext(ctx, "tcp", d.hostPort)
		if err != nil {
			return nil, connErr(err)
		}
		return nc, nil
	}
	return d.connectProxy(ctx, pu)
}
