package socket

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/netkit-go/netkit/internal/engine"
	"github.com/netkit-go/netkit/internal/obs"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// ClientConfig configures a [Client] (Ballerina's ClientConfig). Host and
// Port are required in Ballerina; here an empty Host means "localhost".
type ClientConfig struct {
	// Host is the server's host name or IP address. If empty, "localhost".
	Host string
	// Port is the server's port.
	Port int
	// ReadTimeout bounds the connect and each wait of Read for more data;
	// it restarts after each partial read. If 0, 300 s (DefaultTimeout);
	// negative disables it (ctx still bounds the connect).
	ReadTimeout time.Duration
	// WriteTimeout bounds each Write. If 0, 300 s; negative disables it.
	WriteTimeout time.Duration
	// CallbackService, if set, receives the connection's events: OnConnect
	// (optional) once connected, then OnReadReady as data arrives, 0.990
	// (push) or 1.x (pull) style (see [Service]); OnClose and OnError as for
	// a listener's service. It runs on the connection's own goroutine. If
	// nil, the client reads with Read.
	CallbackService Service
	// Dialer connects (local address, keepalive, control hooks). If nil, a
	// zero net.Dialer.
	Dialer *net.Dialer
	// Logger receives callback panics and connection errors. If nil,
	// slog.Default().
	Logger *slog.Logger
	// MeterProvider, if set, receives the client's metrics
	// (docs/metrics.md). Nil: none, at no cost.
	MeterProvider metric.MeterProvider
	// TracerProvider, if set, receives one span per NewClient (the dial).
	// Nil: none.
	TracerProvider trace.TracerProvider
}

// Client is Ballerina's socket:Client, a TCP client connection. It embeds
// the [Caller] that its callback service receives (Ballerina's `type Caller
// Client`), so Write, Read, ShutdownRead, ShutdownWrite and the address
// methods are the Caller's. Concurrency is as for Caller.
type Client struct {
	Caller
}

// NewClient connects to cfg.Host:cfg.Port; ctx and ReadTimeout bound the
// connect. With a CallbackService the connection is served like a
// listener's, by the same engine, and OnConnect runs on its goroutine
// (possibly after NewClient returned). A connect failure is a *GenericError
// "unable to start the client socket: <cause>" (for example "...:
// Connection refused", matching syscall.ECONNREFUSED) where Ballerina
// panicked; a service whose hooks do not check out is an error too.
func NewClient(ctx context.Context, cfg ClientConfig) (_ *Client, err error) {
	mode := modePlain
	var h callbacks
	if cfg.CallbackService != nil {
		var err error
		if h, err = resolve(cfg.CallbackService); err != nil {
			return nil, err
		}
		mode = modePull
		if h.push() {
			mode = modePush
		}
	}
	if cfg.Port <= 0 || cfg.Port > 65535 {
		return nil, &GenericError{Message: msgStartClient + "invalid port " + strconv.Itoa(cfg.Port)}
	}
	host := cfg.Host
	if host == "" {
		host = "localhost"
	}
	timeout := resolveTimeout(cfg.ReadTimeout)
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	o := obs.New(obs.Config{Face: obs.FaceSocket, Role: obs.RoleClient, Transport: "tcp", MeterProvider: cfg.MeterProvider, TracerProvider: cfg.TracerProvider})
	o.BindHostPort(host, cfg.Port)
	ctx, span := o.StartDial(ctx, "", net.JoinHostPort(host, strconv.Itoa(cfg.Port)))
	defer func() { obs.EndSpan(span, err); o.DialFailed(err) }()
	var d net.Dialer
	if cfg.Dialer != nil {
		d = *cfg.Dialer
	}
	nc, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(cfg.Port)))
	if err != nil {
		return nil, &GenericError{Message: msgStartClient + causeText(err), Cause: err}
	}
	conn := engine.NewConn(nc, engine.ConnConfig{
		Logger:       cfg.Logger,
		ReadTimeout:  timeout,
		WriteTimeout: resolveTimeout(cfg.WriteTimeout),
	})
	cl := &Client{}
	cl.init(conn, mode)
	cl.obs = o
	if mode == modePlain {
		cl.mark = o.ConnOpened() // the sessions count theirs
	}
	switch mode {
	case modePush:
		conn.Start(&pushSession{session{c: &cl.Caller, h: h}})
	case modePull:
		conn.Start(&pullSession{session{c: &cl.Caller, h: h}})
	}
	return cl, nil
}

// Close closes the connection gracefully, as [Caller.Close], and with a
// callback service waits until it is closed and OnClose has run (at most
// about 5 s for the server's end of stream), unless called from one of the
// client's own callbacks. Without callback service it shuts down the write
// side and closes the socket at once. Close is idempotent.
func (cl *Client) Close() error {
	err := cl.Caller.Close()
	if cl.mode == modePlain {
		cl.obs.ConnClosed(cl.mark, nil)
	}
	if cl.mode != modePlain && !cl.conn.OnLoop() {
		<-cl.conn.Done()
	}
	return err
}
