// Package tcp is Ballerina's tcp module in Go: a pull-style [Client], a
// callback-mode client, and a [Listener] that dispatches each connection to
// a [ConnectionService] returned by its [Service]'s OnConnect.
//
// # Services
//
// A [Service] answers OnConnect with one [ConnectionService] per connection.
// OnBytes receives each chunk read from the connection; a non-nil reply is
// written back before the next read. OnError ([ErrorHandler]) and OnClose
// ([CloseHandler]) are optional. The callbacks of one connection run on its
// own goroutine, in order, one at a time; OnClose runs exactly once. For long
// work, start a goroutine and write through the [Caller].
//
// Data handed to OnBytes is borrowed: it is valid until OnBytes returns (keep
// it with bytes.Clone). The reply may be the input slice itself.
//
// # Writes, timeouts and closing
//
// Writes are synchronous: WriteBytes returns when the kernel has accepted
// every byte. Concurrent writes never interleave; at most MaxPendingWrites
// writers wait, one more gets [ErrSendQueueFull]. Timeouts follow the netkit
// convention: 0 means the documented default, a negative value disables it.
//
// Closing is close-write-then-linger: the peer sees FIN, never RST, and no
// reply in flight is lost. [Caller.Close] inside a callback (OnConnect
// included) takes effect when the callback returns, inside OnBytes after the
// returned reply is written. ListenerConfig.IdleTimeout (none by default)
// closes a connection from which nothing was read for that long.
//
// # TLS
//
// ListenerConfig.SecureSocket and ClientConfig.SecureSocket take the types of
// package [github.com/netkit-go/netkit/tlsconfig], with Ballerina's fields
// (PEM or PKCS#12 keys and trust stores, mutual TLS, versions, ciphers,
// handshake timeout). A TLSConfig field is the escape hatch: it is cloned and
// the SecureSocket fields are applied on top.
//
// # Metrics and traces
//
// ListenerConfig.MeterProvider and ClientConfig.MeterProvider and
// TracerProvider turn on OpenTelemetry metrics (connections, messages and
// bytes, errors, stops) and a span per NewClient; nil, the default, costs
// nothing. docs/metrics.md lists every instrument.
package tcp
