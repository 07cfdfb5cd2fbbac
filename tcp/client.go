package tcp

import (
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/netkit-go/netkit/internal/bufpool"
	"github.com/netkit-go/netkit/internal/engine"
	"github.com/netkit-go/netkit/internal/obs"
	"github.com/netkit-go/netkit/internal/tlsconf"
	"github.com/netkit-go/netkit/tlsconfig"
)

// DefaultTimeout is the client's connect and read timeout, and its write
// timeout, when ClientConfig.Timeout or WriteTimeout is 0 (Ballerina's 300 s).
const DefaultTimeout = 300 * time.Second

// ClientConfig configures a [Client]. The zero value (or nil) is valid.
type ClientConfig struct {
	// LocalHost is the local address to bind before connecting. If empty,
	// the system chooses.
	LocalHost string
	// Timeout bounds the connect (with the TLS handshake) and each read. If
	// 0, 300 s; negative disables it.
	Timeout time.Duration
	// WriteTimeout bounds each write. If 0, 300 s; negative disables it.
	WriteTimeout time.Duration
	// SecureSocket enables TLS (unless its Disable is set).
	SecureSocket *tlsconfig.ClientSecureSocket
	// TLSConfig is a base TLS configuration, cloned with SecureSocket's fields
	// applied on top. Setting it without SecureSocket enables TLS too.
	TLSConfig *tls.Config
	// Dialer connects (keepalive, control hooks, ...). If nil, a zero
	// net.Dialer. Its LocalAddr is overridden by LocalHost when set.
	Dialer *net.Dialer
	// Service, if set, puts the client in callback mode: the connection is
	// read by the same engine as a listener's, and Service's OnBytes (and
	// optional OnError/OnClose) receive the data. ReadBytes and Read then
	// return ErrCallbackMode.
	Service ConnectionService
	// Logger receives callback errors and panics. If nil, slog.Default().
	Logger *slog.Logger
	// MaxPendingWrites caps writers waiting on the connection. If 0, 64.
	MaxPendingWrites int
	// MeterProvider, if set, receives the client's metrics
	// (docs/metrics.md). Nil: none, at no cost.
	MeterProvider metric.MeterProvider
	// TracerProvider, if set, receives one span per NewClient (the dial
	// and TLS handshake). Nil: none.
	TracerProvider trace.TracerProvider
}

// Client is a TCP client connection. WriteBytes, CloseWrite and Close are
// safe for concurrent use; reads are for one goroutine at a time.
type Client struct {
	conn     *engine.Conn
	sess     *session // callback mode
	obs      *obs.Set
	mark     *obs.ConnMark // pull mode
	closeMu  sync.Once
	closeErr error
}

// NewClient connects to remoteHost:remotePort (a host name, IPv4 or IPv6
// address). With TLS, it returns after the handshake. ctx bounds the
// connect together with Timeout.
func NewClient(ctx context.Context, remoteHost string, remotePort int, cfg *ClientConfig) (c *Client, err error) {
	var cc ClientConfig
	if cfg != nil {
		cc = *cfg
	}
	o := obs.New(obs.Config{Face: obs.FaceTCP, Role: obs.RoleClient, Transport: "tcp", MeterProvider: cc.MeterProvider, TracerProvider: cc.TracerProvider})
	o.BindHostPort(remoteHost, remotePort)
	ctx, span := o.StartDial(ctx, "", net.JoinHostPort(remoteHost, strconv.Itoa(remotePort)))
	defer func() { obs.EndSpan(span, err); o.DialFailed(err) }()
	var d net.Dialer
	if cc.Dialer != nil {
		d = *cc.Dialer
	}
	if cc.LocalHost != "" {
		la, err := net.ResolveTCPAddr("tcp", net.JoinHostPort(cc.LocalHost, "0"))
		if err != nil {
			return nil, &Error{Op: "connect", Err: err}
		}
		d.LocalAddr = la
	}
	timeout := resolve(cc.Timeout, DefaultTimeout)
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	nc, err := d.DialContext(ctx, "tcp", net.JoinHostPort(remoteHost, strconv.Itoa(remotePort)))
	if err != nil {
		return nil, &Error{Op: "connect", Err: err}
	}
	if (cc.SecureSocket != nil && !cc.SecureSocket.Disable) || cc.TLSConfig != nil {
		ss := cc.SecureSocket
		if ss != nil && ss.Disable {
			ss = nil
		}
		tc, err := tlsconf.ClientConfig(ss, cc.TLSConfig, remoteHost)
		if err != nil {
			nc.Close()
			return nil, &Error{Op: "tls", Err: err}
		}
		var hs time.Duration
		if ss != nil {
			hs = ss.HandshakeTimeout
		}
		tlsConn := tls.Client(nc, tc)
		if err := tlsconf.Handshake(ctx, tlsConn, hs); err != nil {
			nc.Close()
			return nil, &Error{Op: "tls", Err: err}
		}
		nc = tlsConn
	}
	ecfg := engine.ConnConfig{
		Logger:           cc.Logger,
		MaxPendingWrites: cc.MaxPendingWrites,
		WriteTimeout:     resolve(cc.WriteTimeout, DefaultTimeout),
		ReadTimeout:      timeout,
	}
	if cc.Service != nil {
		s := &session{svc: cc.Service}
		c := &Client{sess: s, conn: engine.NewConn(nc, ecfg), obs: o}
		s.conn, s.obs = c.conn, o
		c.conn.Start(s)
		return c, nil
	}
	return &Client{conn: engine.NewConn(nc, ecfg), obs: o, mark: o.ConnOpened()}, nil
}

// WriteBytes writes all of data, returning when the kernel has accepted it.
// ctx and WriteTimeout bound it. If it fails before any byte is written the
// client is unaffected; after some bytes the connection is closed.
func (c *Client) WriteBytes(ctx context.Context, data []byte) error {
	_, err := c.conn.Write(ctx, data)
	if err == nil {
		c.obs.Sent(obs.MsgNone, len(data))
	}
	return err
}

// ReadBytes returns the next chunk of data as it arrives, in fresh memory.
// At end of stream the error is io.EOF. On timeout (ctx or Timeout) the
// error matches os.ErrDeadlineExceeded (or is ctx's error); nothing was
// consumed and the client stays usable.
func (c *Client) ReadBytes(ctx context.Context) ([]byte, error) {
	if c.sess != nil {
		return nil, ErrCallbackMode
	}
	b := bufpool.Get(4) // 64 KiB
	defer bufpool.Put(b)
	n, err := c.conn.Read(ctx, *b)
	if n > 0 {
		c.obs.Received(obs.MsgNone, n)
		return bytes.Clone((*b)[:n]), nil
	}
	return nil, err
}

// Read reads into p, like io.Reader with a context; it allocates nothing.
// Errors are as for ReadBytes.
func (c *Client) Read(ctx context.Context, p []byte) (int, error) {
	if c.sess != nil {
		return 0, ErrCallbackMode
	}
	n, err := c.conn.Read(ctx, p)
	if n > 0 {
		c.obs.Received(obs.MsgNone, n)
	}
	return n, err
}

// CloseWrite shuts down the write side: the server reads EOF while this
// client can still read its reply.
func (c *Client) CloseWrite() error { return c.conn.CloseWrite() }

// Close closes the connection; it is idempotent. In callback mode it closes
// gracefully (FIN, then the server's EOF within 5 s, then OnClose) and waits
// for that unless called from a callback.
func (c *Client) Close() error {
	c.closeMu.Do(func() {
		if c.sess == nil {
			c.closeErr = c.conn.Close(ErrClosed)
			c.obs.ConnClosed(c.mark, nil)
			return
		}
		c.sess.closed.Store(true)
		c.conn.Shutdown(ErrClosed)
		if !c.conn.OnLoop() {
			<-c.conn.Done()
		}
	})
	return c.closeErr
}

// Caller returns the client's connection as a Caller (in callback mode the
// same value the callbacks receive).
func (c *Client) Caller() *Caller {
	if c.sess != nil {
		return &c.sess.Caller
	}
	return &Caller{conn: c.conn}
}

// LocalAddr returns the local address.
func (c *Client) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// RemoteAddr returns the server's address.
func (c *Client) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }

// TLS returns the TLS connection state, or nil for a plain connection.
func (c *Client) TLS() *tls.ConnectionState { return c.conn.TLS() }
