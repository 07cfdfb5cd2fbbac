// Package evloop holds the building blocks of netkit's event-loop backend
// on Linux: an edge-triggered epoll [Poller] whose idle connections cost a
// registration and a small struct (no goroutine, no buffer, no timer), a
// shared timer [Wheel], and [Detach], which takes a socket away from Go's
// runtime poller after net/http hijacked it. It knows no face; the engine
// plugs it in behind its own lifecycle (see docs/architecture.md,
// "Event-loop backend (building blocks)").
//
// # Who runs what
//
//   - Each loop goroutine (Config.Loops, one per P by default) owns an
//     epoll instance. While it has traffic it blocks in epoll_wait on its
//     own thread (one system call per wake-up, as a loop on a locked
//     thread does); after busyWait (10 ms) without an event it waits in
//     the runtime's poller for the epoll descriptor to become readable
//     instead (nested epoll, through a duplicate descriptor registered
//     only for that wait), so an idle loop holds no OS thread. It maps
//     the events to connections, queues the ready ones in the pool
//     without waking a worker, and serves them itself, one turn each, for
//     up to inlineBound (1 ms) or 4 × DefaultEvents turns; the workers
//     get the rest.
//     Before it blocks again it yields once (runtime.Gosched), so that
//     goroutines its turns readied run first. A watchdog, armed only
//     while it serves, hands the loop to a new goroutine when one turn
//     lasts longer than 1-2 ms; the old one finishes the turn and joins
//     the pool, and the new one serves what is still queued. So a
//     blocking handler delays its own connection only, and the other
//     connections of its loop by at most about 2 ms once.
//   - A bounded pool of goroutines (Config.Workers) serves queued
//     connections: a worker reads into a pooled buffer (internal/bufpool)
//     until EAGAIN, or until a short read while the peer's FIN is not yet
//     reported, hands the bytes to [Handler.Data], keeps what Data did not
//     consume and gives the buffer back. A turn does at most
//     Config.ReadBudget reads, then the connection goes to the back of the
//     queue.
//   - Callbacks of one connection never overlap and never reorder: a
//     connection is queued at most once; readiness, [Conn.Wake] or
//     [Conn.Close] arriving during its turn make the same worker go round
//     again.
//   - [Conn.Write] runs on the caller's goroutine. When the socket's send
//     buffer is full it parks that goroutine until the loop reports
//     writability, never the loop.
//   - The descriptor is closed in the connection's last turn (or by the
//     last writer leaving write(2)), so a descriptor number is never
//     reused under a running call.
//
// # Waits and their bounds
//
//   - Conn.Write waiting for writability: the caller's ctx and deadline
//     (default none); Close releases it at once with net.ErrClosed.
//   - Poller.Close waiting for callbacks to return and workers to exit:
//     its ctx. Stuck callbacks are not awaited beyond it; their sockets
//     can be shut down with [Conn.Abort].
//   - Loop goroutines wait for events without a timeout (in epoll_wait
//     for busyWait, 10 ms, then in the runtime's poller); Poller.Close
//     wakes them through an eventfd.
//   - A loop goroutine serving a connection itself: at most inlineBound
//     (1 ms) to 2 × inlineBound before another goroutine takes the loop.
//   - Wheel timers fire at or after their time, at most one tick late
//     (Tick, default DefaultTick = 10 ms) plus scheduling delay.
//
// # Limits
//
//   - Config.Workers: 32 × GOMAXPROCS, at least 64 (goroutines that took
//     over from a loop may exceed it by one per loop for a while);
//     Config.Loops:
//     GOMAXPROCS, at most MaxLoops (64); Config.Events: 256;
//     Config.ReadBudget: 16 reads.
//
// On other systems [New] fails with errors.ErrUnsupported and the engine
// keeps its goroutine backend.
package evloop
