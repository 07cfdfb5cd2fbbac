package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/metric"

	"github.com/netkit-go/netkit/hub"
	"github.com/netkit-go/netkit/internal/obs"
	"github.com/netkit-go/netkit/websocket"
)

// Defaults of Config.
const (
	DefaultPrefix        = "hub"
	DefaultReconnectWait = 250 * time.Millisecond
	DefaultTimeout       = 10 * time.Second
	// DefaultRoundTripInterval is how often a broker with a MeterProvider
	// measures its round trip to the server.
	DefaultRoundTripInterval = 10 * time.Second
)

// TypeHeader is the NATS header that marks a binary message
// ("Netkit-Type: binary"). Messages without it are text.
const TypeHeader = "Netkit-Type"

var binaryHeader = nats.Header{TypeHeader: []string{"binary"}}

// Config configures a Broker. The zero value connects to
// nats://127.0.0.1:4222.
type Config struct {
	// URL is the NATS server, or a comma-separated list of servers of one
	// cluster. Default nats.DefaultURL (nats://127.0.0.1:4222).
	URL string
	// Prefix is the first token of every subject: topic T is subject
	// Prefix.T. Default "hub".
	Prefix string
	// Name is the connection's name, as the server's monitoring shows it.
	Name string
	// ReconnectWait is the pause between reconnect attempts to a server
	// (nats.go adds jitter). 0: 250 ms; negative: none of its own (only
	// nats.go's jitter, 100 ms, or 1 s with TLS, paces the attempts). The
	// broker reconnects for ever.
	ReconnectWait time.Duration
	// Timeout bounds connecting to a server, and a Subscribe or Close
	// whose ctx has no deadline. 0: 10 s. A negative Timeout is an error
	// from Connect: nats.go needs a bound for each server's handshake.
	Timeout time.Duration
	// Options are more nats.go options, applied after the broker's own
	// (credentials, TLS, the reconnect buffer size, ...). Do not turn
	// echo back on: the hub delivers its own messages itself.
	Options []nats.Option
	// Logger receives disconnects, reconnects and asynchronous errors
	// (such as a slow NATS subscription). Default slog.Default().
	Logger *slog.Logger
	// MeterProvider, if set, receives the broker's round trips to the
	// server (netkit.hub.broker.round_trip, docs/metrics.md): each
	// Subscribe's flush, and a flush (a PING and its PONG, as
	// nats.Conn.RTT) every RoundTripInterval while connected. Default:
	// none, no metrics and no probe.
	MeterProvider metric.MeterProvider
	// RoundTripInterval is the period of that probe, with a MeterProvider.
	// Default 10 s; negative: no probe (only the Subscribes' flushes are
	// measured).
	RoundTripInterval time.Duration
}

// Broker is one hub node's attachment to NATS. It implements hub.Broker.
type Broker struct {
	nc      *nats.Conn
	prefix  string
	timeout time.Duration
	obs     *obs.HubBroker // nil: metrics off
	stop    chan struct{}  // ends the round-trip probe; nil: none
	probed  sync.WaitGroup
	once    sync.Once
}

var _ hub.Broker = (*Broker)(nil)

// Connect connects to NATS, bounded by ctx and Config.Timeout.
func Connect(ctx context.Context, cfg *Config) (*Broker, error) {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if c.URL == "" {
		c.URL = nats.DefaultURL
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if err := hub.ValidTopic(c.Prefix); err != nil {
		return nil, fmt.Errorf("natsbroker: prefix: %w", err)
	}
	switch {
	case c.ReconnectWait == 0:
		c.ReconnectWait = DefaultReconnectWait
	case c.ReconnectWait < 0:
		c.ReconnectWait = 0
	}
	switch {
	case c.Timeout == 0:
		c.Timeout = DefaultTimeout
	case c.Timeout < 0:
		return nil, errors.New("natsbroker: negative Timeout: connecting needs a bound")
	}
	timeout := c.Timeout
	if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
		timeout = time.Until(d)
	}
	log := c.Logger
	if log == nil {
		log = slog.Default()
	}
	opts := []nats.Option{
		nats.NoEcho(),
		nats.Name(c.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(c.ReconnectWait),
		nats.Timeout(timeout),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if err != nil {
				log.Warn("natsbroker: disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Warn("natsbroker: reconnected", "server", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(nc *nats.Conn, s *nats.Subscription, err error) {
			subj := ""
			if s != nil {
				subj = s.Subject
			}
			log.Warn("natsbroker: asynchronous error", "subject", subj, "err", err)
		}),
	}
	d := &causeDialer{d: net.Dialer{Timeout: timeout}}
	opts = append(opts, nats.SetCustomDialer(d))
	nc, err := nats.Connect(c.URL, append(opts, c.Options...)...)
	if err != nil {
		if cause := d.lastErr(); cause != nil {
			return nil, fmt.Errorf("natsbroker: connect %s: %w: %w", redactURLs(c.URL), err, cause)
		}
		return nil, fmt.Errorf("natsbroker: connect %s: %w", redactURLs(c.URL), err)
	}
	b := &Broker{nc: nc, prefix: c.Prefix + ".", timeout: c.Timeout, obs: obs.NewHubBroker(c.MeterProvider, "nats")}
	if b.obs.Metrics() && c.RoundTripInterval >= 0 {
		if c.RoundTripInterval == 0 {
			c.RoundTripInterval = DefaultRoundTripInterval
		}
		b.stop = make(chan struct{})
		b.probed.Add(1)
		go b.probe(c.RoundTripInterval)
	}
	return b, nil
}

// probe measures the round trip every interval until Close.
func (b *Broker) probe(interval time.Duration) {
	defer b.probed.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
		if b.nc.IsConnected() {
			b.flush(b.timeout)
		}
	}
}

// flush waits for the server's PONG to a PING sent behind what is
// buffered, bounded by timeout, and records the round trip.
func (b *Broker) flush(timeout time.Duration) error {
	start := time.Now()
	err := b.nc.FlushTimeout(timeout)
	if err == nil {
		b.obs.RoundTrip(time.Since(start))
	}
	return err
}

// Conn returns the NATS connection, for its status and statistics.
func (b *Broker) Conn() *nats.Conn { return b.nc }

// Subject returns the NATS subject of topic (or pattern).
func (b *Broker) Subject(topic string) string { return b.prefix + topic }

// Publish publishes on the topic's subject. While the connection is
// reconnecting, nats.go buffers the message (its reconnect buffer, 8 MiB by
// default) and sends it after the reconnect; when that buffer is full, the
// error is nats.ErrReconnectBufExceeded.
func (b *Broker) Publish(ctx context.Context, topic string, typ websocket.MessageType, data []byte) error {
	var err error
	if typ == websocket.BinaryMessage {
		err = b.nc.PublishMsg(&nats.Msg{Subject: b.prefix + topic, Data: data, Header: binaryHeader})
	} else {
		err = b.nc.Publish(b.prefix+topic, data)
	}
	if err != nil {
		return fmt.Errorf("natsbroker: publish: %w", err)
	}
	return nil
}

// Subscribe subscribes to pattern's subject and returns once the server has
// the subscription (a flush round trip, bounded by ctx, or Config.Timeout
// if ctx has no deadline). In a NATS cluster, the other servers learn of
// it over their routes shortly after. After a reconnect, nats.go subscribes
// again by itself.
func (b *Broker) Subscribe(ctx context.Context, pattern string, deliver hub.DeliverFunc) (func() error, error) {
	if err := hub.ValidPattern(pattern); err != nil {
		return nil, err
	}
	n := len(b.prefix)
	sub, err := b.nc.Subscribe(b.prefix+pattern, func(m *nats.Msg) {
		if len(m.Subject) <= n {
			return
		}
		typ := websocket.TextMessage
		if m.Header != nil && m.Header.Get(TypeHeader) == "binary" {
			typ = websocket.BinaryMessage
		}
		deliver(m.Subject[n:], typ, m.Data)
	})
	if err != nil {
		return nil, fmt.Errorf("natsbroker: subscribe: %w", err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b.timeout)
		defer cancel()
	}
	start := time.Now()
	if err := b.nc.FlushWithContext(ctx); err != nil {
		sub.Unsubscribe()
		return nil, fmt.Errorf("natsbroker: subscribe: %w", err)
	}
	b.obs.RoundTrip(time.Since(start))
	return func() error {
		if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrBadSubscription) {
			return fmt.Errorf("natsbroker: unsubscribe: %w", err)
		}
		return nil
	}, nil
}

// Close flushes what was published (bounded by Config.Timeout) and closes
// the connection.
func (b *Broker) Close() error {
	if b.stop != nil {
		b.once.Do(func() { close(b.stop) })
	}
	var err error
	if b.nc.IsConnected() {
		if ferr := b.nc.FlushTimeout(b.timeout); ferr != nil && !errors.Is(ferr, nats.ErrConnectionClosed) {
			err = fmt.Errorf("natsbroker: close: %w", ferr)
		}
	}
	b.nc.Close()
	b.probed.Wait() // a probe's flush ends at once on the closed connection
	return err
}

// causeDialer dials as nats.go's default dialer does (a net.Dialer bounded
// by Config.Timeout) and keeps the last dial error: nats.Connect reports
// only nats.ErrNoServers, and Connect adds the cause (so that a refused
// server matches syscall.ECONNREFUSED). A nats.SetCustomDialer in
// Config.Options replaces it.
type causeDialer struct {
	d    net.Dialer
	mu   sync.Mutex
	last error
}

func (c *causeDialer) Dial(network, address string) (net.Conn, error) {
	conn, err := c.d.Dial(network, address)
	if err != nil {
		c.mu.Lock()
		c.last = err
		c.mu.Unlock()
	}
	return conn, err
}

func (c *causeDialer) lastErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// redactURLs returns Config.URL (one URL or a comma-separated list) fit
// for an error or a log: a password, or a user name standing alone (a
// token), is replaced by "xxxxx", as nats.go's ConnectedUrlRedacted does.
// A part that does not parse as a URL is replaced whole if it holds an @.
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		u, err := url.Parse(p)
		switch {
		case err != nil:
			if strings.Contains(p, "@") {
				p = "xxxxx"
			}
		case u.User != nil:
			if _, ok := u.User.Password(); ok {
				u.User = url.UserPassword(u.User.Username(), "xxxxx")
			} else {
				u.User = url.User("xxxxx")
			}
			p = u.String()
		}
		parts[i] = p
	}
	return strings.Join(parts, ",")
}
