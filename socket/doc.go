// Package socket is Ballerina's legacy socket module (0.990 and 1.x) in Go:
// a TCP [Listener] and [Client] whose events go to a service's resource
// functions, and a [UdpClient]. It is an adapter: connections are driven by
// netkit's one connection engine, as in the tcp and websocket packages, and
// a UdpClient is a udp.Client.
// New code should prefer the tcp and udp packages; socket exists so that
// programs written against the older API find every name they know.
//
// # Two styles of service
//
// A [Service] is any value with Ballerina's resource functions as methods.
// Its OnReadReady decides the style, once, when it is attached:
//
//   - 0.990, push: OnReadReady(c *Caller, content []byte) is handed each
//     chunk read (borrowed until it returns; keep it with bytes.Clone).
//     Hooks: OnAccept (listener) or OnConnect (client), OnClose, OnError.
//   - 1.x, pull: OnReadReady(c *Caller) is told that data is available and
//     pulls it with [Caller.Read]; if data remains when it returns it runs
//     again. Hooks: OnConnect, OnError. End of stream is Read's io.EOF.
//
// Every hook is optional except OnReadReady (Ballerina's compiler required
// all of them), and a method named On* that matches no hook is an error at
// Attach. The callbacks of one connection run on its own goroutine, one at a
// time and in order; the next read waits for OnReadReady to return, so TCP
// flow control is the backpressure. One Service value serves all the
// connections of a listener concurrently. For long work, start a goroutine
// and write through the Caller.
//
// A panic in a callback is recovered and logged with its stack; OnError is
// told ("Error while on read", or "Error while on connect"; the Cause is a
// [*PanicError]) while the connection is still open, and the connection is
// then closed gracefully (OnClose follows for 0.990 services). The process
// and the other connections go on.
//
// # Reads, writes and closing
//
// [Caller.Write] returns when the kernel has accepted every byte; concurrent
// writes never interleave. [Caller.Read] with [ReadAvailable] returns what
// has arrived; with a length it blocks until exactly that many bytes have
// accumulated, the read timeout restarting after each partial read. A
// timed-out read returns [ErrReadTimedOut] and loses nothing: the bytes
// received so far are returned first by the next Read.
//
// Closing is close-write-then-linger: [Caller.Close] shuts down the write
// side (the peer sees FIN, not RST, and no byte written is lost), discards
// input until the peer's end of stream or 5 s, then closes and runs OnClose.
//
// # Errors
//
// Failures are a [*GenericError] (use errors.As) or [ErrReadTimedOut] (use
// errors.Is), carrying Ballerina's messages ("client socket close already.", "unable to
// start the socket service: Address already in use", ...), and wrapping the
// cause, so that errors.Is finds net.ErrClosed, os.ErrDeadlineExceeded,
// syscall.ECONNREFUSED, syscall.EADDRINUSE. Where Ballerina panicked (a
// client that cannot connect, a UDP port that cannot be bound) the
// constructors return these errors.
//
// # Timeouts
//
// ReadTimeout (default 300 s, Ballerina's readTimeoutInMillis) bounds each
// wait for data in Read and ReceiveFrom, a client's connect and a
// UdpClient's sends; WriteTimeout (default 300 s) each write. A negative
// value disables a timeout. A wait without a timeout: a connection's idle
// time between OnReadReady calls (bounded only by the listener's stop).
//
// See docs/ballerina-mapping.md (its socket section) for the
// element-by-element mapping from Ballerina and every deviation.
//
// Metrics: ListenerConfig and ClientConfig take an OpenTelemetry
// MeterProvider (and ClientConfig a TracerProvider); docs/metrics.md lists
// the instruments. Nil, the default, costs nothing.
package socket
