// Package tlsconf turns the SecureSocket records of the public package
// tlsconfig into *tls.Config values: PEM and PKCS#12 keys and trust stores,
// mutual TLS, protocol versions, cipher suites and handshake timeouts. The
// faces (tcp, websocket) call it; users see only package tlsconfig.
//
// [ServerConfig] and [ClientConfig] clone an optional base *tls.Config (the
// faces' TLSConfig escape hatch) and apply the SecureSocket on top. Their
// errors are *[ConfigError] values carrying Ballerina's messages.
// [Handshake] runs a handshake bounded by [HandshakeTimeout] (10 s unless
// configured; negative disables it) and the caller's context.
//
// # Waits without a timeout
//
// None by default: a handshake is bounded by 10 s. With a negative
// HandshakeTimeout it is bounded only by the caller's context.
//
// # Concurrency
//
// All functions are safe for concurrent use. The returned *tls.Config is
// new and owned by the caller; the SecureSocket values and base are only
// read.
package tlsconf
