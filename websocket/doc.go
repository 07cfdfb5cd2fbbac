// Package websocket is Ballerina's websocket module in Go: a WebSocket
// (RFC 6455, RFC 7692 permessage-deflate) server with Ballerina's Listener,
// upgrade service, Service callbacks and Caller (a *[Conn]), and its clients (the
// synchronous Client and the callback AsyncClient), all built on netkit's one
// connection engine and one message loop.
//
// # Serving
//
// A [Listener] is served by netkit's engine from accept to close (no
// http.Server): a connection counts against MaxConnections as soon as it is
// accepted, its TLS handshake is bounded by SecureSocket.HandshakeTimeout
// (10 s), then its one HTTP/1.1 request by Timeout (10 s), and an upgrade
// turns the same engine connection into the WebSocket. A plain request
// (Fallback) gets one buffered response and Connection: close.
//
// On a ws:// (plain TCP) connection the request is first read by the
// handshake fast path (internal/wsproto's RequestParser), not by
// net/http: it takes a plain HTTP/1.1 "GET" with an origin-form target,
// CRLF line ends, one valid Host, no Content-Length, Transfer-Encoding or
// Expect, no obs-fold, no "Connection: close", "Upgrade: websocket" and
// "Connection: upgrade", at most 64 header fields, the head within
// MaxHeaderSize, and builds the *http.Request net/http would (Method,
// URL, Proto, Header without Host, Host, RequestURI, RemoteAddr, the
// request's context with Timeout, TLS nil, Body http.NoBody). Anything
// else (another method or version, an absolute-form target, a body, odd
// framing, a longer head, a read error or the Timeout before the head is
// complete) goes to http.ReadRequest with every byte read so far replayed
// first, so answers (400, 426, 431, ...) and limits are those of net/http.
// The bytes sent after the head are the WebSocket's first input on either
// path. wss:// requests always go to net/http.
// [Listener.Attach] routes an upgrade
// path to an [UpgradeService], whose Upgrade decides each request and
// returns the [Service] for the connection (or an error: *UpgradeError,
// *AuthnError 401, *AuthzError 403, other 400, panic 500; an unknown path is
// 404). [NewHandler] gives the same as an http.Handler for any mux, and
// [Accept] upgrades one request to a [Conn] that the caller reads with
// [Conn.Read] on its own goroutine.
//
// # HTTP/2 (RFC 8441)
//
// With TLS, a Listener's ALPN offers h2 and http/1.1
// (ListenerConfig.DisableHTTP2 turns h2 off). An h2 connection is served
// by golang.org/x/net/http2 on the engine connection's goroutine, with
// SETTINGS_ENABLE_CONNECT_PROTOCOL advertised (no GODEBUG needed; only
// golang.org/x/net/http2 servers are affected, not net/http's own: see
// docs/architecture.md), so a browser whose page came over h2 opens its
// WebSocket as an extended CONNECT on that connection. Each such
// WebSocket is a stream: the same path, UpgradeService, subprotocol and
// permessage-deflate negotiation, Service, limits, timeouts, keepalive and
// close handshake as the HTTP/1.1 Upgrade; the answer is 200 without
// Sec-WebSocket-Accept, another Sec-WebSocket-Version gets 400 with
// Sec-WebSocket-Version: 13, another :protocol 501, a CONNECT without
// :protocol 400. A stream is a connection of the Listener's engine: it
// counts against MaxConnections (with the connection carrying it), gets
// close 1001 on a graceful stop before the connection's GOAWAY, and its
// window is its backpressure (a stalled stream does not stall the
// others). A socket dropped without a close handshake resets its stream
// only (RST_STREAM CANCEL, RFC 8441 §5); a stream reset by the peer ends
// its socket with 1006.
// [ConfigureHTTP2] does the same for a Handler on the user's http.Server
// (read its warning). [Conn.HTTPVersion] says which HTTP a socket came
// over, and the metrics carry network.protocol.version.
//
// Service callbacks are optional typed hooks (OnOpen, OnTextMessage,
// OnBinaryMessage, OnPing, OnPong, OnIdleTimeout, OnClose, OnError), checked
// once per type: a method named On* with the wrong signature fails the
// upgrade instead of being ignored. [ServiceFuncs] builds a Service from
// functions. Callbacks of one connection run one at a time on its read
// goroutine, in order; the next frame is dispatched after the callback
// returns, so TCP flow control is the backpressure. Data passed to a
// callback is borrowed until it returns (bytes.Clone to keep it).
//
// Ballerina's data binding, custom dispatch and return values are methods
// of the user's types (see [Service]): OnMessage(c, v T) receives messages
// decoded into T; with ServiceConfig.DispatcherKey a JSON field's value
// picks a method On<Value>(c, v T); a method may return (R, error) and R is
// sent (text, binary, JSON, a *[CloseError] that closes, or each element
// of an iter.Seq or a channel). ServiceConfig.Auth checks the upgrade
// request with [FileUserStore], [JWTValidator] or [OAuth2Introspection]
// before the UpgradeService runs (401/403); the [Principal] is on the
// request's context and on the Conn.
//
// # Clients
//
// [Dial] returns a [Client] over the same [Conn] as the server side:
// [Client.Read] appends the next whole message into a caller's buffer
// without allocating; ReadTextMessage, ReadBinaryMessage and ReadMessage
// (JSON) are conveniences. Text is []byte on every path (WriteTextMessage,
// OnTextMessage, ReadTextMessage): the payload is never copied into a
// string behind the caller's back. [DialAsync] runs a [Service] over the connection with the
// server's dispatcher ([AsyncClient]). ClientConfig covers subprotocols,
// custom headers, cookies, Auth (Basic, Bearer, a self-signed JWT issuer,
// the OAuth2 client-credentials, password, refresh-token and jwt-bearer
// grants),
// HTTP and HTTPS CONNECT proxies (ProxyFromEnvironment by default; SNI is the
// target), TLS with the SecureSocket types of package tlsconfig, limits,
// compression (offered by default) and Retry: after an abnormal closure, an I/O error or a pong timeout a Client
// reconnects with backoff and resends a failed write (at least once:
// duplicates are possible). [NetConn] exposes a connection as a net.Conn.
//
// With ClientConfig.HTTP2 a wss client dials over HTTP/2 (RFC 8441): the
// opening handshake is an extended CONNECT (:protocol websocket, :scheme
// https, :path, :authority, Sec-WebSocket-Version 13, the offered
// subprotocols and extensions, custom headers, cookies and Auth) on a
// connection of an [HTTP2Pool], and the WebSocket is one stream of it, so
// many clients of one origin share one TCP and TLS connection. The pool is
// keyed by origin (host:port), TLS configuration and proxy; it holds at most
// MaxConnsPerOrigin connections (16) of MaxStreamsPerConn streams (100, and
// never more than the server's SETTINGS_MAX_CONCURRENT_STREAMS); a dial
// beyond that fails with ErrConnection at once. A connection closes with its
// last stream; a closed, failed or GOAWAY'd one takes no new stream and
// leaves the pool. When the server does not take it (ALPN chooses
// http/1.1, or its first SETTINGS lack SETTINGS_ENABLE_CONNECT_PROTOCOL)
// the dial falls back to an HTTP/1.1 upgrade on a connection of its own,
// and the pool remembers it for HTTP2FallbackMemory (1 min);
// [Client.HTTPVersion] ("2" or "1.1", as Conn.HTTPVersion) and the
// HandshakeResponse (200 or 101, Proto HTTP/2.0 or HTTP/1.1) say which was
// used. Everything else is
// the same over a stream: deflate, keepalive, Retry (a new stream),
// AsyncClient, read and write timeouts (the stream's flow-control window
// is the backpressure: a write waits while it is full), and HTTP or HTTPS
// CONNECT proxies (the tunnel carries the TLS session, whose ALPN offers h2;
// the proxy sees only CONNECT host:port). A stream reset by the server
// (RST_STREAM, GOAWAY, the connection's loss) ends the WebSocket with 1006,
// as a dropped TCP connection; the other streams go on. Not carried: ws
// URLs (there is no cleartext h2c variant), and proxies that terminate TLS
// and speak HTTP/1.1 to the client (the dial then falls back). Each stream
// costs two goroutines (golang.org/x/net/http2's request writer and one
// that reads the response body, since those bodies have no deadlines: into
// 512 bytes of its own while the stream idles, a pooled buffer handed to
// the engine while data flows, as the server's streams) and runs on the goroutine backend whatever
// ListenerConfig.Engine or NETKIT_ENGINE say, as TLS connections do.
//
// # Writing
//
// Writes are synchronous: WriteTextMessage and friends return when the
// kernel accepted every byte. Writers of one connection queue on its write
// lock (at most MaxPendingWrites, default 64; one more gets
// ErrSendQueueFull), each bounded by ctx and WriteTimeout (default 30 s).
// For broadcast, a [PreparedMessage] is encoded once, and [Conn.TrySend]
// never waits behind another writer.
//
// # Closing
//
// Close handshakes follow Ballerina (§5.7 of the reference): a peer's close
// runs OnClose, then the same code is echoed and the TCP connection closed;
// a dropped connection is OnClose(1006, ""). Protocol violations close with
// 1002, invalid UTF-8 with 1007, oversized frames or messages with 1009, a
// callback panic with 1011; OnError follows, after the closure. A callback
// returning a *[CloseError] (such as [NormalClosure]) closes with its code.
// [Conn.Close] inside a callback never deadlocks: it sends the close frame
// and returns. [Conn.CloseNow] drops the connection without a close
// handshake. A client that echoes the server's close waits for the server
// to close the TCP connection (RFC 6455 §7.1.1), at most 5 s.
//
// GracefulStop (of a Listener or a Handler) is the engine's: each
// connection's running callback finishes and its writes go out, messages
// that already arrived are dispatched, then close 1001 is sent from the
// connection's own goroutine and the echo awaited (ConnectionClosureTimeout,
// and the stop's ctx, by whose deadline GracefulStop returns). No message
// that reached a callback loses its reply. ImmediateStop closes at once and
// waits at most 1 s for callbacks to return. A Handler's upgraded
// connections count against the open-file limit minus 64; beyond it an
// upgrade gets 503.
//
// # Limits and waits
//
// MaxMessageSize (16 MiB) bounds a reassembled, decompressed message and
// MaxFrameSize (default: the message limit) one frame, both checked from the
// frame header before allocating; a compressed message is inflated into
// pooled chunks and copied once, so a deflate bomb costs at most the limit
// plus 256 KiB. Open connections per Listener: MaxConnections (the
// open-file limit minus 64), counted from accept; an HTTP/2 connection
// and each WebSocket stream of it count one each, and one connection has
// at most MaxConcurrentStreams (250) streams open. An HTTP/2 connection
// without streams is sent GOAWAY after Timeout (10 s). Waits and their
// defaults:
// a wss TLS handshake (SecureSocket.HandshakeTimeout, 10 s), the upgrade
// request and the 101 (Listener Timeout and DefaultUpgradeTimeout, 10 s;
// Ballerina's 120 s), writes (30 s), the close echo
// (ConnectionClosureTimeout, 60 s), a client's opening handshake
// (HandshakeTimeout, 300 s), a client's HTTP/2 stream sending its last
// frames (the close frame) before its reset (1 s), each JWKS or introspection request of the
// listener auth and each jwt-bearer token request (DefaultAuthFetchTimeout,
// 10 s; the other OAuth2 grants are bounded by Dial's ctx). Cache lifetimes:
// a JWKS (JWKSCacheTTL, 1 h), an introspection result (CacheTTL, 5 min,
// never past the token's exp), a JWTIssuer token (Expiry, 5 min). A stream
// returned by a callback (a channel) is read until it is closed or the
// connection ends. Without a default: a client's ReadTimeout and
// WriteTimeout (off, as Ballerina), IdleTimeout (off),
// keepalive pings (PingInterval, PongTimeout: off), and Conn.Read (bounded
// by its ctx only). The idle timeout runs for Service connections;
// keepalive for Service connections and clients (a Client pings while a
// Read waits); an Accepted Conn's reads are bounded by their ctx.
//
// # Errors
//
// Closed connections match net.ErrClosed and [ErrClosed] (a *CloseError
// too), timeouts os.ErrDeadlineExceeded; a peer's close is a *CloseError.
// Ballerina's error kinds without data of their own are sentinels for
// errors.Is: ErrConnectionClosure, ErrConnection, ErrCorruptedFrame,
// ErrPayloadTooLarge, ErrHandshakeTimedOut, ErrMalformedURL, ErrAuth; the
// kinds that carry data are types: InvalidHandshakeError (status,
// response), UpgradeError (status), AuthnError, AuthzError, ProxyError,
// PayloadBindingError. Texts are lower case and prefixed "websocket: ",
// except Ballerina's messages that docs/ballerina-mapping.md promises
// (close handshake, validation).
//
// # Metrics and traces
//
// ListenerConfig and ClientConfig take an OpenTelemetry MeterProvider and
// TracerProvider: connections (a listener's from accept, upgraded or not,
// and the upgraded ones), messages and bytes by type, upgrades by status,
// failed TLS handshakes, handshake durations, close codes, compression
// ratios, TrySend drops, and one span per upgrade request (its parent
// taken from the request's headers) and per dial. A standalone Handler
// (NewHandler) and Accept take them in their ServiceConfig. Nil, the
// default, costs nothing. docs/metrics.md lists every instrument.
package websocket
