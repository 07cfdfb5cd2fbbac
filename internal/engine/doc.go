// Package engine is netkit's one connection lifecycle: accepting, limits,
// handshake deadlines, tracking, the read loop, callback dispatch, panic
// recovery, synchronous writes, half-close, and graceful and immediate stop.
// It serves the tcp, websocket and socket faces; none of them keeps a
// connection set, a stop or an accept loop of its own.
//
// A [Server] accepts from its listener (or takes connections handed to it by
// [Server.Adopt] after a handshake done elsewhere, such as an http.Handler's
// hijack) and runs one goroutine per connection. Two kinds of face plug in:
//
//   - a [StreamFace] is pushed bytes: Open, Data(c, p) (consumed, err),
//     Closed(c, err). It serves tcp and websocket. Optional extensions: a
//     [TimerFace] has timers run on the connection's goroutine; a
//     [GracefulFace] says its own goodbye when the server stops gracefully.
//   - a [ConnFace] owns its loop (Serve(c)) and pulls with [Conn.Read]. It
//     serves socket 1.x's pull reads, and the HTTP request of a websocket
//     Listener's connection, which [Conn.Become] turns into a StreamFace on
//     the same goroutine after the upgrade.
//
// # States
//
// A connection is open, then closing gracefully ([Conn.Shutdown], a face's
// [ErrCloseGracefully] or [ErrAwaitPeerClose], a graceful stop), then
// closed ([Conn.Close], an error, the end of the graceful close). Each step
// happens once; Close may skip the graceful state. After the socket is
// closed the face's Closed runs exactly once (not after a failed Open or a
// failed TLS handshake), and only then does the connection leave the
// server's set and stop counting against MaxConnections.
//
// A server is idle, running (after Listen or Serve), stopping (one stop in
// progress; others join it), then idle again: it may be started again.
// Addr keeps the last bound address after a stop.
//
// # Goroutines
//
// The accept loop runs on one goroutine per server and never runs a
// handshake or a callback. Each connection's goroutine runs, in order: the
// TLS handshake (bounded by Config.HandshakeTimeout; on failure
// Config.HandshakeFailed, then the close), Config.ConnState's StateNew, the
// face's Open, its Data, Timer and Stopping callbacks one at a time (the
// next read starts only when a callback returns, so TCP flow control is the
// backpressure), Closed, and ConnState's StateClosed (before the server
// forgets the connection, so a stop returns after it). The engine starts no other goroutine, except the ones the runtime
// uses for a context.AfterFunc while a blocking call waits. Writes run on the
// caller's goroutine.
//
// # Limits and waits
//
//   - MaxConnections (0: the open-file limit minus 64): accepting pauses at
//     the cap; connections still in their TLS handshake or their HTTP
//     request count, and so do streams (ServeStream, see Streams). Waiting connections stay in the kernel's backlog and
//     hold no descriptor of the process.
//   - HandshakeTimeout: the TLS handshake; the face bounds its own
//     handshake (the websocket upgrade request) after it.
//   - MaxPendingWrites (64) writers wait for the write lock; one more gets
//     [ErrSendQueueFull] at once. The wait is bounded by the write's ctx,
//     WriteTimeout, and the connection's close (by anyone), after which it
//     fails with an error matching net.ErrClosed. [Conn.CloseWrite] waits the
//     same way (without the cap).
//   - Linger (5 s): how long a graceful close waits for the peer's EOF.
//   - [ImmediateStopWait] (1 s): how long ImmediateStop waits for callbacks
//     to return once their sockets are closed; also how long a stop waits
//     for an event loop without connections to close.
//   - Event-loop backend only (see Backends): at most 32 × GOMAXPROCS (at
//     least 64) pool goroutines run callbacks; a loop serving a callback
//     itself hands the loop over after 1–2 ms; timers fire at most one
//     wheel tick (10 ms) late.
//
// # Stops
//
// [Server.GracefulStop] stops accepting and shuts every connection down:
// its running callback finishes and its writes go out; bytes that already
// arrived are still handed to the face; then a [GracefulFace] says goodbye
// from the connection's own goroutine (and the connection reads on until
// the face ends it), or the write side is shut down and the connection
// lingers for the peer's EOF. It returns nil once every connection ended,
// or ctx's error by ctx's deadline, having closed the rest at once (their
// Closed then runs after GracefulStop returned).
//
// [Server.ImmediateStop] closes every socket at once (faces are told, cause
// [ErrListenerStopped]) and waits for the connections to end, for at most
// ImmediateStopWait: a callback stuck on something other than its
// connection is not awaited, and its connection leaves the set when it
// finally returns.
//
// A stop that begins while another is in progress joins it: a graceful one
// waits for it (bounded by its own ctx), an immediate one closes its
// connections at once and waits for it (bounded by ImmediateStopWait).
// Called from one of the server's callbacks, the first stop does not wait
// for that callback's own connection (which closes when the callback
// returns), and a joining stop does not wait at all; so two callbacks that
// stop the server at once never wait for each other.
//
// # What a callback may do
//
// Write (to its own or any connection), CloseWrite, Shutdown or Close its
// connection (the close takes effect when the callback returns; a write
// after Close fails with an error matching net.ErrClosed), start or stop
// the server. A panic in any callback is recovered and logged; the
// connection is closed and the face's Closed is told a [*PanicError]; other
// connections are unaffected.
//
// # Lock order
//
// Server.mu and Conn.mu are never held together. The write lock (a
// one-slot channel) may be held while Conn.mu is taken (Close from a failed
// write), never the reverse. Faces' own locks are taken outside both, or
// (websocket's closeMu) as leaves. The websocket Listener has no lock
// under which it calls a Handler.
//
// # Backends
//
// Config.Backend picks a backend: it is the public netkit.Engine, which the
// tcp, socket and websocket faces pass on from their ListenerConfig.Engine
// (a value naming no backend is an error from their NewListener,
// CheckBackend). The environment variable NETKIT_ENGINE ("goroutine" or
// "evloop") overrides it, for tests and benchmarks. The
// default is the event-loop backend on Linux and the goroutine backend
// described above elsewhere: in bench/run (docs/benchmarks.md, 2026-12-04
// 04:42, a quiet machine) the event loop served 1.02-1.73x the goroutine
// backend's messages per server CPU-second in TCP echo, 1.52x at a fixed
// rate and 1.04-1.08x in WebSocket echo, and held an idle WebSocket in
// 2.9 KB instead of 9.4 KB; it is behind on ws:// handshakes (0.74x: the
// move into the loop) and the same for TLS (which it leaves on goroutines).
//
// The event-loop backend ([BackendEventLoop], Linux only) starts an
// internal/evloop Poller with each Listen or Serve and closes it at the
// end of each stop. A [StreamFace] connection on a plain *net.TCPConn runs
// its handshake and Open on a short-lived goroutine as above; then its
// descriptor is taken from Go's poller (evloop.Detach, under the write
// lock and Conn.mu, so no write or Close races it) and registered with
// the Poller, and the goroutine ends. From then on:
//
//   - Data, Timer, Stopping and Closed run on a loop goroutine, which
//     serves the connections of each batch of events itself (for up to
//     1 ms; then goroutines of the Poller's bounded pool, 32 × GOMAXPROCS,
//     at least 64, take the rest), or on a pool goroutine (wake-ups from
//     timers and stops, a turn whose read budget was spent); never two at
//     once for one connection, always in order. While it has traffic a
//     loop goroutine blocks in epoll_wait on its own thread; after 10 ms
//     without an event it waits in the runtime's poller, so an idle loop
//     holds no thread. A blocking callback delays its own connection; its
//     loop's other connections wait about 2 ms at most, once, before a
//     new goroutine takes the loop over (the blocked one then stays a
//     pool goroutine). When every pool goroutine is blocked, ready
//     connections wait in the queue.
//   - Shutdown, a stop and a TimerFace's timer wake the connection; its
//     next turn acts on the state, as the goroutine loop does before each
//     read. A stopping server's connection first hands over the bytes that
//     already arrived. The linger and the face's timers are timers on one
//     process-wide evloop.Wheel (10 ms tick: they fire at most 10 ms late,
//     never early), not a runtime timer per connection.
//   - Writes run on the caller's goroutine; a write that would block waits
//     for writability there (bounded by ctx, WriteTimeout and Close),
//     never on a loop. WriteBuffers writes its slices one by one.
//   - Close shuts the socket down at once; the descriptor is closed after
//     the running callback returns.
//
// A [ConnFace] (pull reads, the websocket Listener's HTTP request) runs
// on its goroutine; if it calls [Conn.Become], the StreamFace it becomes
// is opened on that goroutine and then handed to the Poller the same way
// (the bytes read behind the request go first). TLS connections, adopted
// connections of a server that was not started with Listen or Serve (an
// http.Handler mount's hijacked WebSockets), and other systems stay on the
// goroutine backend. A user gains an idle connection without goroutine or
// buffer; they give up a callback's own goroutine (a callback that blocks
// for long now holds a shared pool goroutine). The id of the goroutine
// running a callback (OnLoop and stops from callbacks need it) comes from
// evloop.Conn.Goroutine, read once per pool worker and loop goroutine.
//
// contract_test.go runs the contract above against both backends, with
// real loopback sockets only.
//
// # Streams
//
// [Server.ServeStream] runs a connection carried by another one (an
// HTTP/2 stream carrying a WebSocket, RFC 8441): its net.Conn is the
// stream (golang.org/x/net/http2's request body and ResponseWriter). It
// follows the contract above (tracking, MaxConnections, StateNew and
// StateClosed, the face's callbacks one at a time, Closed exactly once,
// graceful and immediate stops, panics, writes under the write lock),
// with these differences, on both backends:
//
//   - It has no descriptor and no TLS handshake of its own ([Conn.TLS] is
//     the carrying connection's), and runs on the goroutine that called
//     ServeStream (golang.org/x/net/http2's handler goroutine), which it
//     blocks until Closed has run; it never goes to the event loop. It is
//     not accepted, so instead of the accept loop's pause at
//     MaxConnections, ServeStream refuses it at the cap
//     ([ErrTooManyConnections]; the carrier answers 503), checked and
//     counted under one lock before the carrier's answer (HTTP/2's 200).
//   - An idle stream holds its carrier's reader's buffer
//     (golang.org/x/net/http2 cannot wait for DATA without one; the
//     websocket face's is 512 bytes while idle) and that reader's
//     goroutine; the loop takes a filled pooled buffer ([PooledReader])
//     instead of holding one of its own.
//   - Shutdown's wake-up and timers are the net.Conn's read deadline,
//     which for a stream only wakes a blocked read; [Conn.CloseWrite]
//     ends the stream (a stream cannot half-close while its handler
//     reads), so the graceful close does not linger.
//   - A write still blocked on the stream's flow-control window at its
//     deadline (or ctx's end) resets the stream: bytes a carrier accepted
//     cannot be withdrawn, so the timed-out write always ends the
//     connection, even if none of its bytes reached the peer.
//
// The carrying connection is a [ConnFace] connection of the same server.
// It hands its socket to the other protocol's server ([Conn.NetConn]) and
// sets [Conn.SetStopHook], so that a graceful stop, instead of waking its
// reads, lets its streams say goodbye first (close 1001) and then the
// carrier (GOAWAY); stream_test.go tests this kind on both backends.
//
// # Memory
//
// An idle connection holds no read buffer: the loop waits for readability
// through syscall.RawConn without a buffer, then takes a pooled buffer from
// internal/bufpool, reads, hands the bytes to the face and returns the
// buffer. Buffer size classes grow when a read fills a buffer and shrink
// after short reads. A TLS connection cannot wait without reading: it
// waits with a one-byte read (crypto/tls decrypts the whole record into
// its own buffer, which it keeps anyway), then takes a pooled buffer and
// reads the rest of what crypto/tls and the socket hold with the read
// deadline in the past, so that it holds no pooled buffer while idle
// either (bufpool.Outstanding counts them under netkit_debug).
package engine
