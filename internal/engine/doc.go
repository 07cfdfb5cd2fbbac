// Package engine is netkit's one connection lifecycle: accepting, tracking,
// the read loop, callback dispatch, panic recovery, synchronous writes,
// half-close, and graceful and immediate stop. It serves the tcp, websocket
// and socket faces; none of them copies it.
//
// A [Server] accepts from its listeners (or takes connections handed to it by
// [Server.Adopt] after a TLS or HTTP handshake) and runs one goroutine per
// connection. Two kinds of face plug in:
//
//   - a [StreamFace] is pushed bytes: Open, Data(c, p) (consumed, err),
//     Closed(c, err). It serves tcp and websocket.
//   - a [ConnFace] owns its loop (Serve(c)) and pulls with [Conn.Read]. It
//     serves socket 1.x's pull reads and net.Conn adapters.
//
// Callbacks run on the connection's goroutine; the next read starts only when
// a callback returns, so TCP flow control is the backpressure.
//
// An idle connection holds no read buffer: the loop waits for readability
// through syscall.RawConn without a buffer, then takes a pooled buffer from
// internal/bufpool, reads, hands the bytes to the face and returns the buffer.
// Buffer size classes grow when a read fills a buffer and shrink after short
// reads. (TLS connections cannot wait without reading, and read with a buffer.)
//
// Writes are synchronous under a per-connection write lock; at most
// MaxPendingWrites writers wait for it, one more gets [ErrSendQueueFull].
//
// Closing gracefully is close-write-then-linger: the write side is shut down
// (the peer sees FIN, never RST), then the loop reads and discards until the
// peer's EOF or the linger deadline, and only then closes the socket.
package engine
