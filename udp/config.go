package udp

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/netkit-go/netkit/internal/obs"
)

// Defaults.
const (
	// DefaultTimeout bounds each read of a [Client] or [ConnectClient]
	// (Ballerina's timeout = 300).
	DefaultTimeout = 300 * time.Second
	// DefaultMaxDatagramSize is the size sends are split at (Ballerina's 8192).
	DefaultMaxDatagramSize = 8192
	// DefaultReceiveBufferSize is the receive buffer: 64 KiB, enough for any
	// UDP datagram.
	DefaultReceiveBufferSize = 64 << 10
	// DefaultQueueSize is the capacity of each worker's queue.
	DefaultQueueSize = 256
	// DefaultBatchSize is the number of datagrams read per system call on
	// Linux; it is lowered so that the batch's buffers stay within 512 KiB.
	DefaultBatchSize = 64

	batchBudget = 512 << 10
)

// ClientConfig configures a connectionless [Client] (Ballerina's
// ClientConfiguration). The zero value, or a nil pointer, is valid.
type ClientConfig struct {
	// LocalHost is the local address to bind to, an IP address or a host
	// name. Empty: all interfaces (an IPv6 socket that also serves IPv4
	// where the system allows).
	LocalHost string
	// LocalPort is the local port to bind (0: a free port), as Ballerina
	// socket's UdpClient local Address. It must be in 0..65535.
	LocalPort int
	// Timeout bounds each receive and each send. Zero means
	// DefaultTimeout (300 s); negative means no timeout. A context deadline
	// that comes earlier wins.
	Timeout time.Duration
	// MaxDatagramSize is the size sends are split at: a payload longer than
	// it leaves as several datagrams. Zero means DefaultMaxDatagramSize
	// (8192); values up to 65507 are allowed. Negative disables splitting:
	// a payload longer than 65507 bytes is then ErrDatagramTooLarge.
	MaxDatagramSize int
	// ReceiveBufferSize is the largest datagram ReceiveDatagram accepts; a
	// larger one is ErrTruncated. Zero means DefaultReceiveBufferSize
	// (64 KiB); larger values are treated as 64 KiB.
	ReceiveBufferSize int
	// ListenConfig creates the socket (for socket options through its
	// Control hook). Nil means a zero net.ListenConfig.
	ListenConfig *net.ListenConfig
	// MeterProvider, if set, receives the client's metrics (docs/metrics.md).
	// Nil: none, at no cost.
	MeterProvider metric.MeterProvider
}

// ConnectClientConfig configures a [ConnectClient] (Ballerina's
// ConnectClientConfiguration). The zero value, or a nil pointer, is valid.
type ConnectClientConfig struct {
	// LocalHost is the local address to bind to. Empty: chosen by the system.
	LocalHost string
	// Timeout bounds each read and each write. Zero means DefaultTimeout
	// (300 s); negative means no timeout. A context deadline that comes
	// earlier wins.
	Timeout time.Duration
	// MaxDatagramSize is the size writes are split at, as in ClientConfig.
	// Zero means 8192; negative disables splitting.
	MaxDatagramSize int
	// ReceiveBufferSize is the largest datagram ReadBytes accepts, as in
	// ClientConfig. Zero means 64 KiB.
	ReceiveBufferSize int
	// Dialer creates the connected socket. Nil means a zero net.Dialer.
	// LocalHost, when set, replaces its LocalAddr.
	Dialer *net.Dialer
	// MeterProvider, if set, receives the client's metrics (docs/metrics.md).
	// Nil: none, at no cost.
	MeterProvider metric.MeterProvider
}

// ListenerConfig configures a [Listener] (Ballerina's ListenerConfiguration
// plus Go options). The zero value, or a nil pointer, is valid.
type ListenerConfig struct {
	// LocalHost is the local address to bind to. Empty: all interfaces.
	LocalHost string
	// RemoteHost and RemotePort, when both set, make a connected listener:
	// it exchanges datagrams with that peer only and the kernel discards
	// datagrams from anyone else. Setting only one is ErrRemoteIncomplete.
	RemoteHost string
	// RemotePort is the connected peer's port; see RemoteHost.
	RemotePort int
	// MaxDatagramSize is the size replies and Caller sends are split at.
	// Zero means 8192; negative disables splitting (see ClientConfig).
	MaxDatagramSize int
	// ReceiveBufferSize is the largest datagram the listener accepts; a
	// larger one is counted in Stats.Truncated and reported to OnError
	// with ErrTruncated, never delivered cut. Zero means 64 KiB (any UDP
	// datagram); larger values are treated as 64 KiB.
	ReceiveBufferSize int
	// Workers, when positive, dispatches datagrams to that many worker
	// goroutines; a datagram goes to the worker chosen by a hash of its
	// sender, so each sender's datagrams are handled in order. Zero or
	// negative: every datagram is handled on the read loop, in arrival
	// order.
	Workers int
	// QueueSize is each worker's queue capacity; a datagram arriving at a
	// full queue is dropped and counted in Stats.Dropped. Zero means
	// DefaultQueueSize (256).
	QueueSize int
	// BatchSize is how many datagrams the read loop receives with one
	// recvmmsg system call on Linux (the replies of a batch leave with one
	// sendmmsg, runs of replies to one peer as UDP GSO messages). Zero means
	// DefaultBatchSize (64), lowered so that the batch's buffers (BatchSize
	// × ReceiveBufferSize) stay within 512 KiB: 8 with the default 64 KiB
	// buffer. Larger batches raise throughput under load (see the package
	// benchmarks) at that memory cost. 1 or negative disables batching.
	// Ignored elsewhere, with Workers (for receives only: the read loop still
	// batches) and for PacketConns other than *net.UDPConn.
	BatchSize int
	// MulticastGroups are joined when the listener starts (IPv4 or IPv6
	// group addresses). With an empty LocalHost and only IPv4 (or only
	// IPv6) groups the socket is bound to that family's wildcard address.
	MulticastGroups []netip.Addr
	// MulticastInterface names the interface to join the groups on (for
	// example "eth0"). Empty: the system's choice.
	MulticastInterface string
	// ListenConfig creates the socket (SO_REUSEPORT, buffer sizes, ...
	// through its Control hook). Nil means a zero net.ListenConfig. For a
	// connected listener its Control hook is used by the dialer.
	ListenConfig *net.ListenConfig
	// Logger receives handler errors, panics (with their stacks) and send
	// failures. Nil means slog.Default().
	Logger *slog.Logger
	// MeterProvider, if set, receives the listener's metrics (docs/metrics.md).
	// Nil: none, at no cost.
	MeterProvider metric.MeterProvider
}

// sockOpts are the resolved settings shared by clients and listeners.
type sockOpts struct {
	timeout  time.Duration // < 0: none
	maxSize  int           // > 0: split size; < 0: no split
	recvSize int
	obs      *obs.Set // nil: metrics off
}

func resolveSockOpts(timeout time.Duration, maxSize, recvSize int) (sockOpts, error) {
	o := sockOpts{timeout: timeout, maxSize: maxSize, recvSize: recvSize}
	if o.timeout == 0 {
		o.timeout = DefaultTimeout
	}
	switch {
	case o.maxSize == 0:
		o.maxSize = DefaultMaxDatagramSize
	case o.maxSize > maxPayload:
		return o, fmt.Errorf("udp: MaxDatagramSize %d exceeds %d", maxSize, maxPayload)
	}
	if o.recvSize <= 0 || o.recvSize > DefaultReceiveBufferSize {
		o.recvSize = DefaultReceiveBufferSize
	}
	return o, nil
}

// checkSize reports whether a payload of n bytes can be sent under o.
func (o *sockOpts) checkSize(n int) error {
	if o.maxSize < 0 && n > maxPayload {
		return fmt.Errorf("%w: %d bytes (limit %d)", ErrDatagramTooLarge, n, maxPayload)
	}
	return nil
}

// chunk returns the length of the next datagram of a payload with rest
// bytes left.
func (o *sockOpts) chunk(rest int) int {
	if o.maxSize > 0 && rest > o.maxSize {
		return o.maxSize
	}
	return rest
}
