package udp

import (
	"context"
	"errors"
	"net"
	"net/netip"

	"github.com/netkit-go/netkit/internal/bufpool"
	"github.com/netkit-go/netkit/internal/obs"
)

// Client is a connectionless UDP client (Ballerina's udp:Client): it sends
// datagrams to any address and receives from anyone.
//
// All methods are safe for concurrent use. Concurrent receives take turns,
// as do concurrent sends; a receive and a send run in parallel.
type Client struct {
	ep endpoint
}

// NewClient binds a UDP socket to cfg.LocalHost (or all interfaces) on
// cfg.LocalPort (or a free port). ctx bounds the resolution of LocalHost.
// A nil cfg is the zero configuration. Errors are [*Error]s with
// Ballerina's message "Error initializing UDP Client".
func NewClient(ctx context.Context, cfg *ClientConfig) (*Client, error) {
	if cfg == nil {
		cfg = &ClientConfig{}
	}
	opts, err := resolveSockOpts(cfg.Timeout, cfg.MaxDatagramSize, cfg.ReceiveBufferSize)
	if err != nil {
		return nil, &Error{Op: "init", Msg: msgInitClient, Err: err}
	}
	laddr, err := localUDPAddr(ctx, cfg.LocalHost, cfg.LocalPort)
	if err != nil {
		return nil, &Error{Op: "init", Msg: msgInitClient, Err: err}
	}
	lc := cfg.ListenConfig
	if lc == nil {
		lc = &net.ListenConfig{}
	}
	pc, err := lc.ListenPacket(ctx, "udp", laddr.String())
	if err != nil {
		return nil, &Error{Op: "init", Msg: msgInitClient, Err: err}
	}
	uc, ok := pc.(*net.UDPConn)
	if !ok {
		pc.Close()
		return nil, &Error{Op: "init", Msg: msgInitClient, Err: errors.New("ListenConfig did not return a *net.UDPConn")}
	}
	opts.obs = obs.New(obs.Config{Face: obs.FaceUDP, Role: obs.RoleClient, Transport: "udp", MeterProvider: cfg.MeterProvider})
	return &Client{ep: endpoint{conn: uc, opts: opts}}, nil
}

// SendDatagram sends d.Data to d.Addr. Data longer than MaxDatagramSize
// leaves as several datagrams, in order; an empty Data sends one empty
// datagram. It returns when the kernel has accepted every datagram. The
// deadline is the earlier of ctx's and the configured Timeout; cancellation
// is checked before each datagram. Errors are [*Error]s ("Failed to send
// data"); with splitting disabled an oversized payload is
// [ErrDatagramTooLarge].
func (c *Client) SendDatagram(ctx context.Context, d Datagram) error {
	if !d.Addr.IsValid() {
		return &Error{Op: "send", Msg: msgSend, Err: errors.New("udp: datagram has no address")}
	}
	return c.ep.send(ctx, d.Data, d.Addr)
}

// ReceiveDatagram waits for one datagram and returns it whole, with its
// real sender, in memory the caller owns. A datagram longer than
// ReceiveBufferSize is consumed and reported as [ErrTruncated] (the
// returned Datagram then has Addr set and no Data). On timeout the error
// matches os.ErrDeadlineExceeded, has Timeout() == true and reads "Read
// timed out"; the client stays usable. If ctx is cancelled, ctx.Err() is
// returned.
func (c *Client) ReceiveDatagram(ctx context.Context) (Datagram, error) {
	bp := bufpool.Get(bufpool.Class(c.ep.opts.recvSize))
	n, from, err := c.ep.receive(ctx, (*bp)[:c.ep.opts.recvSize])
	if err != nil {
		bufpool.Put(bp)
		return Datagram{Addr: from}, err
	}
	data := make([]byte, n)
	copy(data, *bp)
	bufpool.Put(bp)
	return Datagram{Addr: from, Data: data}, nil
}

// ReceiveDatagramInto is ReceiveDatagram without allocation: it reads one
// datagram into buf and returns its length and sender. A datagram longer
// than buf is consumed and reported as [ErrTruncated].
func (c *Client) ReceiveDatagramInto(ctx context.Context, buf []byte) (n int, from netip.AddrPort, err error) {
	return c.ep.receive(ctx, buf)
}

// LocalAddr returns the socket's local address.
func (c *Client) LocalAddr() net.Addr { return c.ep.conn.LocalAddr() }

// Close closes the socket; blocked calls return errors matching
// net.ErrClosed. Close is idempotent: later calls return the first call's
// result.
func (c *Client) Close() error { return c.ep.close() }

// ConnectClient is a connected UDP client (Ballerina's udp:ConnectClient):
// it exchanges datagrams with one peer, and the kernel discards datagrams
// from anyone else.
//
// All methods are safe for concurrent use, as for [Client].
type ConnectClient struct {
	ep endpoint
}

// NewConnectClient creates a socket connected to remoteHost:remotePort.
// ctx bounds name resolution. Errors are [*Error]s with Ballerina's message
// "Can't connect to remote host".
func NewConnectClient(ctx context.Context, remoteHost string, remotePort int, cfg *ConnectClientConfig) (*ConnectClient, error) {
	if cfg == nil {
		cfg = &ConnectClientConfig{}
	}
	opts, err := resolveSockOpts(cfg.Timeout, cfg.MaxDatagramSize, cfg.ReceiveBufferSize)
	if err != nil {
		return nil, &Error{Op: "connect", Msg: msgConnect, Err: err}
	}
	raddr, err := resolveAddr(ctx, remoteHost, remotePort)
	if err == nil && remotePort == 0 {
		err = errors.New("udp: remote port 0")
	}
	if err != nil {
		return nil, &Error{Op: "connect", Msg: msgConnect, Err: err}
	}
	var d net.Dialer
	if cfg.Dialer != nil {
		d = *cfg.Dialer
	}
	if cfg.LocalHost != "" {
		laddr, err := localUDPAddr(ctx, cfg.LocalHost, 0)
		if err != nil {
			return nil, &Error{Op: "connect", Msg: msgConnect, Err: err}
		}
		d.LocalAddr = laddr
	}
	nc, err := d.DialContext(ctx, "udp", raddr.String())
	if err != nil {
		return nil, &Error{Op: "connect", Msg: msgConnect, Err: err}
	}
	uc, ok := nc.(*net.UDPConn)
	if !ok {
		nc.Close()
		return nil, &Error{Op: "connect", Msg: msgConnect, Err: errors.New("Dialer did not return a *net.UDPConn")}
	}
	opts.obs = obs.New(obs.Config{Face: obs.FaceUDP, Role: obs.RoleClient, Transport: "udp", MeterProvider: cfg.MeterProvider})
	opts.obs.BindHostPort(remoteHost, remotePort)
	return &ConnectClient{ep: endpoint{conn: uc, opts: opts, connected: true}}, nil
}

// WriteBytes sends data to the peer, split into datagrams of at most
// MaxDatagramSize bytes. Unlike Ballerina's, it waits for the kernel to
// accept every datagram and reports send errors. Deadlines and errors are
// as for [Client.SendDatagram].
func (c *ConnectClient) WriteBytes(ctx context.Context, data []byte) error {
	return c.ep.send(ctx, data, netip.AddrPort{})
}

// ReadBytes waits for one datagram from the peer and returns its payload in
// memory the caller owns. Timeouts and truncation are as for
// [Client.ReceiveDatagram]; if the peer's port is closed, the error reads
// "Port unreachable" and matches syscall.ECONNREFUSED.
func (c *ConnectClient) ReadBytes(ctx context.Context) ([]byte, error) {
	bp := bufpool.Get(bufpool.Class(c.ep.opts.recvSize))
	n, _, err := c.ep.receive(ctx, (*bp)[:c.ep.opts.recvSize])
	if err != nil {
		bufpool.Put(bp)
		return nil, err
	}
	data := make([]byte, n)
	copy(data, *bp)
	bufpool.Put(bp)
	return data, nil
}

// Read is ReadBytes without allocation: it reads one datagram into p and
// returns its length. A datagram longer than p is consumed and reported as
// [ErrTruncated].
func (c *ConnectClient) Read(ctx context.Context, p []byte) (int, error) {
	n, _, err := c.ep.receive(ctx, p)
	return n, err
}

// LocalAddr returns the socket's local address.
func (c *ConnectClient) LocalAddr() net.Addr { return c.ep.conn.LocalAddr() }

// RemoteAddr returns the peer's address.
func (c *ConnectClient) RemoteAddr() net.Addr { return c.ep.conn.RemoteAddr() }

// Close closes the socket, as [Client.Close].
func (c *ConnectClient) Close() error { return c.ep.close() }
