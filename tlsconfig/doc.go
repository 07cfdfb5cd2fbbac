// Package tlsconfig holds the TLS settings of every netkit face: Ballerina's
// SecureSocket records (`ListenerSecureSocket`, `ClientSecureSocket`,
// `CertKey`, `crypto:KeyStore`, `crypto:TrustStore`, `MutualSSL`,
// `Protocol`) as plain Go structs whose zero values are valid.
//
// A listener takes a *[ListenerSecureSocket] (tcp.ListenerConfig.SecureSocket,
// websocket.ListenerConfig.SecureSocket); a client takes a
// *[ClientSecureSocket] (tcp.ClientConfig.SecureSocket,
// websocket.ClientConfig.SecureSocket). Each face also has a TLSConfig
// *tls.Config escape hatch: the SecureSocket is applied on top of a clone of
// it. The conversion into a *tls.Config is done by the faces; this package
// only describes the settings.
//
// Files are read when the listener or client is created (NewListener,
// NewClient, Dial), and configuration errors are reported there with
// Ballerina's validation messages ("KeyStore file location must be provided
// for secure connection", ...).
//
// # Waits and their defaults
//
//   - ListenerSecureSocket.HandshakeTimeout: 10 s per accepted connection
//     (negative: none).
//   - ClientSecureSocket.HandshakeTimeout: 10 s (negative: bounded only by
//     the caller's context).
//
// # Concurrency
//
// The values are only read by netkit. A *ClientSecureSocket also keys a TLS
// session cache: every connection dialed with the same pointer shares it.
package tlsconfig
