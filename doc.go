// Package netkit is Ballerina's networking standard library (socket, tcp,
// udp, websocket) rebuilt as an idiomatic Go library. This package holds
// only documentation; the API lives in the face packages:
//
//   - [github.com/netkit-go/netkit/tcp]: listeners dispatching to services,
//     pull-style and callback clients, TLS.
//   - [github.com/netkit-go/netkit/udp]: connectionless and connected clients,
//     listeners dispatching datagrams (batched on Linux), multicast.
//   - [github.com/netkit-go/netkit/websocket]: listeners with an upgrade
//     service and typed hooks, http.Handler mounting, pull-style Accept, the
//     synchronous Client and the callback AsyncClient.
//   - [github.com/netkit-go/netkit/socket]: the legacy socket 0.990 and 1.x
//     APIs, as an adapter over the same engine.
//   - [github.com/netkit-go/netkit/tlsconfig]: the TLS settings (Ballerina's
//     SecureSocket records) that every face takes.
//   - [github.com/netkit-go/netkit/netkittest]: test helpers.
//
// # One engine
//
// Accepting, connection limits, handshake deadlines, tracking, the read
// loop, callback dispatch, panic recovery, writing, half-close, and graceful
// and immediate stop are written once (internal/engine) and serve every
// connection-oriented face, the websocket Listener included (from accept to
// close, without an http.Server). Stops are bounded: GracefulStop returns by
// its ctx's deadline (force-closing what is left), ImmediateStop waits at
// most 1 s for callbacks that do not return once their sockets are closed,
// and stops that overlap join the one in progress.
//
// # Concurrency
//
// The callbacks of one connection run in order, one at a time (on the
// connection's goroutine, or on the event loop's pool: see below); the next
// read starts only when a callback returns,
// so TCP flow control is the backpressure. There is no dispatch queue: for
// long work, start a goroutine and write through the Caller. Write methods,
// Close and the accessors are safe for concurrent use. Writes never
// interleave: a write holds the connection's write lock until the kernel has
// accepted every byte.
//
// # Two engine backends
//
// The event-loop backend, the default on Linux, serves plain-TCP
// connections of the tcp face, and ws:// connections of a websocket
// Listener once upgraded, from edge-triggered epoll loops: an idle
// connection holds no goroutine and no buffer. The goroutine backend (the
// only one off Linux, and chosen on Linux with the Engine field of the
// tcp, socket and websocket ListenerConfig, [EngineGoroutine], or for a
// whole process with the environment variable NETKIT_ENGINE=goroutine,
// which overrides the field) runs one goroutine per connection. On Linux
// the event loop is the default: in bench/run (docs/benchmarks.md,
// 2026-12-04 04:42) it held an idle WebSocket in 2.9 KB against 9.4 KB
// and served 1.02-1.73x the goroutine backend's messages per CPU-second
// on TCP and WebSocket echo; it costs more CPU per accepted ws://
// connection (0.74x the upgrades per CPU-second), so a server whose load
// is connection churn should choose the goroutine backend.
// On the event loop, callbacks still run one at a time
// and in order per connection, but on a goroutine of a bounded pool (or
// the loop goroutine itself, for the first ready connection of a batch):
// a callback that blocks holds one pool goroutine, delays its own
// connection, and the other connections of its loop by about 2 ms once,
// after which another goroutine takes the loop over. Writes still run on
// the caller's goroutine. TLS connections (tcp and wss://), socket 1.x's
// pull reads, the HTTP request before an upgrade, and WebSockets of an
// http.Handler mount stay on the goroutine backend.
//
// # Data ownership
//
// A []byte handed to a callback is borrowed until the callback returns; keep
// it with bytes.Clone. A reply returned from a callback is written in full
// before the next callback; it may be the input slice itself. Built with the
// netkit_debug tag, recycled buffers are overwritten with 0xA5, so retention
// bugs fail tests.
//
// # Limits and timeouts
//
// Durations follow one rule: 0 means the documented default, a negative value
// disables the wait. The defaults:
//
//   - tcp client: connect and each read 300 s, each write 300 s (Ballerina's).
//   - tcp listener: each write 30 s; Caller.Close waits 5 s for the peer's EOF;
//     IdleTimeout (nothing read for that long closes) none by default.
//   - TLS handshake: 10 s, on the connection's goroutine (never the accept
//     loop), for every face, wss included.
//   - udp client: each receive and send 300 s; datagrams split at 8192 bytes.
//   - websocket: upgrade request and 101 response 10 s (Ballerina: 120 s),
//     server writes 30 s, close echo 60 s, a client's wait for the server to
//     close TCP after the close handshake 5 s, client handshake 300 s;
//     messages and frames up to 16 MiB (a compressed one inflates into at
//     most that plus 256 KiB).
//   - stops: GracefulStop by its ctx; ImmediateStop waits at most 1 s for
//     callbacks to return.
//   - socket (legacy): each read 300 s.
//   - writers waiting on one connection: 64 (MaxPendingWrites), then
//     ErrSendQueueFull at once.
//   - open connections per listener: the open-file limit minus 64
//     (MaxConnections, tcp and websocket), counted from accept (before a TLS
//     handshake or an HTTP request is read); accepting pauses at the cap. A
//     websocket Handler's upgrades beyond it get 503.
//
// Waits without a timeout by default: GracefulStop waits as long as its ctx
// allows (each connection's linger is bounded by its close timeout); a tcp
// listener's idle connections (IdleTimeout is off, as in Ballerina); a
// websocket client's reads and writes (ReadTimeout and WriteTimeout are off,
// as in Ballerina); websocket IdleTimeout and keepalive pings are off; a udp
// listener's handler calls.
//
// # Contexts
//
// Blocking calls take a context.Context. Its deadline bounds the call
// together with the configured timeout, whichever is earlier, and cancelling
// it interrupts the call at once (even when it also has a deadline). A
// context that can be cancelled costs one context.AfterFunc per call that
// has to wait (a write the socket cannot take at once, a read with nothing
// to read yet); context.Background() costs nothing, which is what the
// zero-allocation figures assume. A context that has already ended fails
// the call before any byte moves.
//
// # Errors
//
// Closed connections match net.ErrClosed; timeouts match
// os.ErrDeadlineExceeded and have Timeout() == true; end of stream is io.EOF.
// Operation failures wrap their causes, so errors.Is(err,
// syscall.ECONNREFUSED) and errors.Is(err, syscall.EADDRINUSE) work on every
// face; kinds without data are sentinels (errors.Is), kinds with data types
// (errors.As). The lifecycle errors (ErrAlreadyStarted, ErrServiceAttached)
// and PanicError are one value and one type shared by every face.
// docs/conventions.md lists the conventions every face follows.
//
// # Platform notes
//
// On Unix an idle connection holds no read buffer: the loop reads through
// syscall.RawConn into a pooled buffer and gives it back before the
// goroutine parks in the poller, so a message costs one read system call
// and an idle connection none of the pool. A write first tries the socket
// without blocking and arms its deadline only if it has to wait. TLS
// connections and other platforms read with a buffer.
package netkit
