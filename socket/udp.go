package socket

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netkit-go/netkit/internal/bufpool"
	"github.com/netkit-go/netkit/internal/engine"
	"github.com/netkit-go/netkit/udp"
	"go.opentelemetry.io/otel/metric"
)

// Address is Ballerina's socket:Address, an IP socket address.
type Address struct {
	// Host is a host name or IP address. In addresses returned by
	// ReceiveFrom it is the sender's IP address as text (Ballerina looked up
	// its host name). For sending, empty means "localhost".
	Host string
	// Port is the port.
	Port int
}

// String returns host:port, with IPv6 hosts in brackets.
func (a Address) String() string { return net.JoinHostPort(a.Host, strconv.Itoa(a.Port)) }

// UdpClientConfig configures a [UdpClient] (Ballerina's UdpClientConfig).
// The zero value, or a nil pointer, is valid.
type UdpClientConfig struct {
	// ReadTimeout bounds each wait of ReceiveFrom for a datagram; with a
	// length it restarts after each datagram. If 0, 300 s (DefaultTimeout);
	// negative disables it. It is the underlying udp.Client's Timeout, so
	// it also bounds each SendTo, which waits only for room in the socket's
	// send buffer (a UDP send does not wait for the peer).
	ReadTimeout time.Duration
	// ListenConfig creates the socket (for socket options through its
	// Control hook). If nil, a zero net.ListenConfig.
	ListenConfig *net.ListenConfig
	// MeterProvider, if set, receives the client's metrics, under
	// netkit.face "udp" (it is a udp.Client). Nil: none, at no cost.
	MeterProvider metric.MeterProvider
}

var udpIDs atomic.Uint64

// UdpClient is Ballerina's socket:UdpClient: a UDP socket that sends
// datagrams to any address and receives from anyone. All methods are safe
// for concurrent use; concurrent receives take turns, as do concurrent
// sends.
//
// It is an adapter over a [udp.Client] bound to the local address, with
// socket's error messages and ReceiveFrom's accumulation of datagrams.
type UdpClient struct {
	c      *udp.Client
	id     uint64
	v4only bool // bound to an IPv4 address: send to IPv4 peers only
	v6only bool // bound to a specific IPv6 address
	closed atomic.Bool

	rmu         sync.Mutex // serialises receives; guards the fields below
	pending     []byte     // data of datagrams received by a timed-out ReceiveFrom
	pendingFrom Address
}

// NewUdpClient opens a UDP socket bound to local (nil: every interface, a
// free port; an empty Host: every interface). ctx bounds resolving
// local.Host. A bind failure is a *GenericError "unable to bind the local
// socket port: <cause>" where Ballerina panicked.
func NewUdpClient(ctx context.Context, local *Address, cfg *UdpClientConfig) (*UdpClient, error) {
	var c UdpClientConfig
	if cfg != nil {
		c = *cfg
	}
	var host string
	var port int
	if local != nil {
		host, port = local.Host, local.Port
	}
	if port < 0 || port > 65535 {
		return nil, &GenericError{Message: msgBindUDP + "invalid port " + strconv.Itoa(port)}
	}
	timeout := c.ReadTimeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	uc, err := udp.NewClient(ctx, &udp.ClientConfig{
		LocalHost:       host,
		LocalPort:       port,
		Timeout:         timeout,
		MaxDatagramSize: -1, // one datagram per SendTo, as Ballerina's sendTo
		ListenConfig:    c.ListenConfig,
		MeterProvider:   c.MeterProvider,
	})
	if err != nil {
		err = udpCause(err)
		if de := (*net.DNSError)(nil); errors.As(err, &de) {
			err = &net.OpError{Op: "listen", Net: "udp", Err: err} // worded as net.ListenPacket's
		}
		return nil, &GenericError{Message: msgBindUDP + causeText(err), Cause: err}
	}
	u := &UdpClient{c: uc, id: udpIDs.Add(1)}
	if la, ok := uc.LocalAddr().(*net.UDPAddr); ok {
		a := la.AddrPort().Addr()
		u.v4only = a.Is4() || a.Is4In6()
		u.v6only = a.Is6() && !a.Is4In6() && !a.IsUnspecified()
	}
	return u, nil
}

// udpCause returns the cause inside a *udp.Error (the error the udp
// package wrapped with its own message), else err.
func udpCause(err error) error {
	var ue *udp.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// SendTo sends content as one datagram to address and returns the number of
// bytes sent (len(content)). A host name is resolved (bounded by ctx),
// preferring an address of the socket's family and IPv4. ctx bounds the
// send. Errors are *GenericErrors: "unable to send data: <cause>", or
// "socket is already closed" (matching net.ErrClosed) after Close.
func (u *UdpClient) SendTo(ctx context.Context, content []byte, address Address) (int, error) {
	if u.closed.Load() {
		return 0, &GenericError{Message: msgAlreadyClosed, Cause: net.ErrClosed}
	}
	to, err := u.resolve(ctx, address)
	if err != nil {
		return 0, &GenericError{Message: msgSendFailed + err.Error(), Cause: err}
	}
	if err := u.c.SendDatagram(ctx, udp.Datagram{Addr: to, Data: content}); err != nil {
		switch {
		case ctx.Err() != nil:
			return 0, ctx.Err()
		case errors.Is(err, context.DeadlineExceeded): // ctx's deadline passed
			return 0, context.DeadlineExceeded
		case errors.Is(err, net.ErrClosed):
			return 0, &GenericError{Message: msgAlreadyClosed, Cause: udpCause(err)}
		case errors.Is(err, udp.ErrDatagramTooLarge): // the kernel's EMSGSIZE, said before the send
			return 0, &GenericError{Message: msgSendFailed + "Message too long", Cause: err}
		}
		err = udpCause(err)
		return 0, &GenericError{Message: msgSendFailed + causeText(err), Cause: err}
	}
	return len(content), nil
}

func (u *UdpClient) resolve(ctx context.Context, a Address) (netip.AddrPort, error) {
	if a.Port <= 0 || a.Port > 65535 {
		return netip.AddrPort{}, errors.New("invalid port " + strconv.Itoa(a.Port))
	}
	host := a.Host
	if host == "" {
		host = "localhost"
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return netip.AddrPortFrom(ip.Unmap(), uint16(a.Port)), nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.AddrPort{}, err
	}
	var pick netip.Addr
	for _, ip := range ips {
		ip = ip.Unmap()
		switch {
		case u.v4only && !ip.Is4(), u.v6only && ip.Is4():
			continue
		case !pick.IsValid(), ip.Is4() && !pick.Is4():
			pick = ip
		}
	}
	if !pick.IsValid() {
		return netip.AddrPort{}, errors.New("no address of the socket's family for " + host)
	}
	return netip.AddrPortFrom(pick, uint16(a.Port)), nil
}

// ReceiveFrom is socket 1.x's receiveFrom(length): it returns received
// data, its length and the sender's address (of the last datagram used).
//
// With length == [ReadAvailable] it returns one whole datagram. With
// length >= 1 it accumulates datagrams until exactly length bytes have
// arrived; the part of the last datagram beyond length is discarded (as
// Ballerina did). Any other length is [ErrInvalidLength].
//
// When ReadTimeout passes without a datagram the error is [ErrReadTimedOut]
// (matching os.ErrDeadlineExceeded); if ctx ends first, ctx's error. Data
// accumulated before either is kept and returned first by the next
// ReceiveFrom. After Close the error is "socket is already closed",
// matching net.ErrClosed.
func (u *UdpClient) ReceiveFrom(ctx context.Context, length int) ([]byte, int, Address, error) {
	if length < 1 && length != ReadAvailable {
		return nil, 0, Address{}, ErrInvalidLength
	}
	u.rmu.Lock()
	defer u.rmu.Unlock()
	if u.closed.Load() {
		return nil, 0, Address{}, &GenericError{Message: msgAlreadyClosed, Cause: net.ErrClosed}
	}
	out, from := u.pending, u.pendingFrom
	u.pending, u.pendingFrom = nil, Address{}
	if length == ReadAvailable && len(out) > 0 {
		return out, len(out), from, nil
	}
	if length != ReadAvailable && len(out) >= length {
		return out[:length:length], length, from, nil
	}
	b := bufpool.Get(readAvailableClass)
	defer bufpool.Put(b)
	for {
		n, ap, err := u.receive(ctx, *b)
		if err != nil {
			u.pending, u.pendingFrom = out, from
			return nil, 0, Address{}, err
		}
		from = Address{Host: ap.Addr().String(), Port: int(ap.Port())}
		if length == ReadAvailable {
			out = bytes.Clone((*b)[:n])
			if out == nil {
				out = []byte{}
			}
			return out, n, from, nil
		}
		take := min(n, length-len(out))
		if out == nil {
			out = make([]byte, 0, min(length, len(*b)))
		}
		out = append(out, (*b)[:take]...)
		if len(out) == length {
			return out, length, from, nil
		}
	}
}

// receive reads one datagram into p and maps the udp package's errors.
func (u *UdpClient) receive(ctx context.Context, p []byte) (int, netip.AddrPort, error) {
	n, from, err := u.c.ReceiveDatagramInto(ctx, p)
	if err == nil {
		return n, from, nil
	}
	switch {
	case ctx.Err() != nil:
		return 0, from, ctx.Err()
	case errors.Is(err, os.ErrDeadlineExceeded):
		if errors.Is(err, context.DeadlineExceeded) { // ctx's deadline, not ReadTimeout
			return 0, from, context.DeadlineExceeded
		}
		return 0, from, ErrReadTimedOut
	case errors.Is(err, net.ErrClosed):
		return 0, from, &GenericError{Message: msgAlreadyClosed, Cause: udpCause(err)}
	}
	err = udpCause(err)
	return 0, from, &GenericError{Message: msgReadFailed + ": " + causeText(err), Cause: err}
}

// Close closes the socket; blocked calls return errors matching
// net.ErrClosed. It is idempotent.
func (u *UdpClient) Close() error {
	if u.closed.Swap(true) {
		return nil
	}
	return udpCause(u.c.Close())
}

// ID returns the client's process-unique id (Ballerina's id field), a
// decimal string as on every netkit face.
func (u *UdpClient) ID() string { return strconv.FormatUint(u.id, 10) }

// LocalPort returns the bound local port (Ballerina's localPort field).
func (u *UdpClient) LocalPort() int { _, p := engine.HostPort(u.c.LocalAddr()); return p }

// LocalAddress returns the bound local IP address as text (Ballerina's
// interface field).
func (u *UdpClient) LocalAddress() string { h, _ := engine.HostPort(u.c.LocalAddr()); return h }
