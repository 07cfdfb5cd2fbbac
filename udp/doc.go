// Package udp is Ballerina's ballerina/udp module in Go: a connectionless
// [Client], a connected [ConnectClient], and a [Listener] that dispatches
// each received datagram to a [Service].
//
// A three-line echo server:
//
//	l, _ := udp.NewListener(48826, nil)
//	l.Attach(udp.Echo) // or udp.BytesFunc(func(c udp.Caller, b []byte) ([]byte, error) { return b, nil })
//	l.Start()
//
// A client:
//
//	c, _ := udp.NewClient(ctx, nil)
//	defer c.Close()
//	to, _ := udp.ResolveAddr("localhost", 48826)
//	c.SendDatagram(ctx, udp.Datagram{Addr: to, Data: []byte("hello")})
//	d, err := c.ReceiveDatagram(ctx) // d.Addr is the real sender
//
// # Datagrams
//
// A received datagram is delivered whole: the receive buffer is 64 KiB by
// default, enough for any UDP datagram, and a datagram larger than a smaller
// configured buffer is reported as [ErrTruncated], never delivered cut.
// Sends longer than MaxDatagramSize (8192 bytes by default, as Ballerina)
// leave as several datagrams; with a negative MaxDatagramSize they are not
// split and a payload over 65507 bytes is [ErrDatagramTooLarge]. Senders'
// addresses are [netip.AddrPort]s; IPv4 senders on dual-stack sockets are
// reported as IPv4, not as IPv4-mapped IPv6.
//
// # Handlers and borrowed data
//
// A Service implements OnBytes or OnDatagram (never both) and optionally
// OnError. The []byte handed to a handler is borrowed: it is valid only until
// the handler returns; keep it with bytes.Clone. Under the netkit_debug build
// tag the memory is overwritten once the handler has returned, so retention
// bugs show in tests. A reply is sent to the sender (OnBytes) or to the
// returned Datagram's address (OnDatagram). A returned error is logged and
// passed to OnError; a panic is recovered, logged with its stack and passed
// to OnError as a [*PanicError]; the listener keeps running either way.
//
// The handler may reuse its reply's memory as soon as it returns. On Linux
// the replies of one receive batch are sent together once the batch's
// handlers have run (a reply is copied into the batch unless it lies in the
// datagram's own buffer); a send through a Caller first sends the replies
// still pending, so each peer sees replies and Caller sends in order.
//
// # Concurrency
//
// By default every handler call runs on the listener's read loop, one at a
// time, in arrival order; a slow handler delays the next datagram (the
// socket's receive queue absorbs bursts, the kernel drops beyond it). For
// long work start a goroutine and answer through the [Caller], which is a
// small value safe to keep and to use from any goroutine. With
// ListenerConfig.Workers > 0 datagrams are dispatched to that many workers
// by a hash of the sender, so each sender's datagrams are still handled in
// order; a full worker queue drops the datagram and counts it in
// [Listener.Stats]. Clients are safe for concurrent use.
//
// # Limits and timeouts
//
// Client and ConnectClient reads and writes are bounded by Timeout (300 s by
// default, negative for none) and by the context's deadline, whichever comes
// first; a timed-out read returns an error matching os.ErrDeadlineExceeded
// (with Timeout() == true and Ballerina's text "Read timed out") and the
// client stays usable. Cancelling a context interrupts a blocked read; sends
// check cancellation before each datagram. Waits without a timeout by
// default: none on clients; a listener's handler calls and its replies'
// sends (UDP sends do not block in practice) and GracefulStop with a
// context that never ends.
//
// # Speed and memory
//
// The listener's steady-state path allocates nothing per datagram: not in
// the read loop, not in the Caller, not in replies (custom PacketConns passed
// to Serve excepted: their ReadFrom and WriteTo allocate net.Addrs). On Linux
// the read loop receives up to BatchSize datagrams per recvmmsg call and
// sends the replies of a batch with one sendmmsg, where runs of replies to
// one peer leave as UDP GSO messages (the kernel routes the run once and
// delivers ordinary datagrams). A running listener holds BatchSize ×
// ReceiveBufferSize bytes of receive buffers (512 KiB by default: 8 × 64 KiB;
// with small datagrams, a smaller ReceiveBufferSize allows a larger batch in
// the same memory) plus a 64 KiB reply arena. Elsewhere, and with BatchSize
// 1, it holds one receive buffer and makes one system call per datagram.
// With Workers, replies are sent one by one by the workers.
//
// Client sends and ReceiveDatagramInto allocate nothing with
// context.Background() or a context that cannot be cancelled (a cancellable
// context costs one context.AfterFunc per read); ReceiveDatagram allocates
// the returned payload. A busy client re-arms its socket deadlines only
// when they have used up half of their time, not on every call.
//
// # Platform
//
// Batched I/O is Linux only (UDP GSO needs Linux 4.18; on an error the
// listener falls back to plain sendmmsg for the rest of its run); other
// systems use one system call per datagram behind the same API. Truncation is detected from the MSG_TRUNC
// flag on Unix systems and WSAEMSGSIZE on Windows; custom PacketConns are
// read into a buffer one byte larger than the limit instead. Multicast
// groups are joined through golang.org/x/net/ipv4 and ipv6.
//
// Metrics: ListenerConfig, ClientConfig and ConnectClientConfig take an
// OpenTelemetry MeterProvider (datagrams and bytes each way, truncations,
// send errors, stops; docs/metrics.md). Nil, the default, costs nothing.
package udp
