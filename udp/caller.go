package udp

import (
	"context"
	"errors"
	"net"
	"net/netip"
)

// Caller is the sender of a datagram as seen from a handler, with the means
// to answer it through the listener's socket (Ballerina's udp:Caller). It is
// a small value: copy it, keep it after the callback, use it from any
// goroutine. Sends through a Caller whose listener has stopped return
// errors matching net.ErrClosed.
type Caller struct {
	addr netip.AddrPort
	raw  net.Addr // the PacketConn's own address, for custom PacketConns only
	r    *run
}

// RemoteHost returns the sender's IP address as text (Ballerina's
// remoteHost); IPv4 senders are plain IPv4 addresses.
func (c Caller) RemoteHost() string {
	if !c.addr.IsValid() {
		if c.raw != nil {
			return c.raw.String()
		}
		return ""
	}
	return c.addr.Addr().String()
}

// RemotePort returns the sender's port (Ballerina's remotePort).
func (c Caller) RemotePort() int { return int(c.addr.Port()) }

// Addr returns the sender's address. It is the zero value for a custom
// PacketConn whose addresses are not IP addresses.
func (c Caller) Addr() netip.AddrPort { return c.addr }

// LocalAddr returns the listener socket's local address; nil for the zero
// Caller.
func (c Caller) LocalAddr() net.Addr {
	if c.r == nil {
		return nil
	}
	return c.r.pc.LocalAddr()
}

// SendBytes sends data to the sender, split at MaxDatagramSize. It returns
// when the kernel has accepted every datagram; ctx's deadline, if any,
// bounds the send, and cancellation is checked before each datagram. Sends
// through the listener's socket take turns with the listener's replies, and
// replies of earlier datagrams still pending in a batch are sent first.
func (c Caller) SendBytes(ctx context.Context, data []byte) error {
	if c.r == nil {
		return errZeroCaller
	}
	return c.r.write(ctx, data, c.addr, c.raw)
}

// SendDatagram sends d.Data to d.Addr (to the sender when d.Addr is the
// zero value), split at MaxDatagramSize, as SendBytes does. A connected
// listener can only send to its peer.
func (c Caller) SendDatagram(ctx context.Context, d Datagram) error {
	if c.r == nil {
		return errZeroCaller
	}
	if !d.Addr.IsValid() || d.Addr == c.addr {
		return c.r.write(ctx, d.Data, c.addr, c.raw)
	}
	return c.r.write(ctx, d.Data, d.Addr, nil)
}

var errZeroCaller = &Error{Op: "send", Msg: msgSend, Err: errors.New("udp: zero Caller")}
