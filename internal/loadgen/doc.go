// Package loadgen is the load generator behind `netkit bench`: it drives a
// TCP, UDP or WebSocket echo server (or, for WebSocket, a broadcast server)
// from many connections, closed-loop or at a fixed rate, and measures what
// came back.
//
// It favours no library: TCP and UDP use plain net.Conns, and WebSocket is
// its own minimal client (the opening handshake, masked frames and a frame
// reader over a raw net.Conn), using only internal/wsproto's pure helpers
// (AcceptKey, masking, permessage-deflate). Every loop is bounded by the run's
// duration and by its message cap.
//
// Latency is measured from a send timestamp carried in each message: the
// first 8 bytes are the nanoseconds since the run started (monotonic clock),
// little-endian; WebSocket text messages carry the same number as 16 hex
// digits so that they stay valid UTF-8. In fixed-rate mode the timestamp is
// the message's scheduled send time, so a generator or server that falls
// behind shows as latency (no coordinated omission). Latencies go into HDR
// histograms (github.com/HdrHistogram/hdrhistogram-go) with microsecond
// resolution.
//
// With Config.ServerPID set, the server's CPU time (utime+stime of
// /proc/PID/stat) and memory (VmRSS, VmHWM, threads and open fds of
// /proc/PID) are sampled when measuring starts and when it ends.
//
// A wss:// target runs the same client over crypto/tls (TLS 1.2 or 1.3,
// ALPN http/1.1, no session resumption, so every connection makes a full
// handshake), verifying the server against Config.CAFile or the system
// roots, or not at all with Config.Insecure; the framing stays this
// package's own.
//
// Idle mode can end with a burst (Config.Burst): one large message per
// connection, written and read back as a stream, then a second hold and
// server sample, to see whether the server's memory returns.
//
// In broadcast mode, stalled subscribers (Config.Stalled) never read and
// have a tiny receive buffer; the generator looks up their sockets and the
// server's sockets to them in the kernel's socket table
// (NETLINK_INET_DIAG) every StallPoll, to tell when the path to them was
// full, whether and when the server closed them, and to split the other
// subscribers' latency at that point (Result.Stall).
package loadgen
