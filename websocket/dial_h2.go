package websocket

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http2"

	"github.com/netkit-go/netkit/internal/h2ext"
	"github.com/netkit-go/netkit/internal/wsproto"
	"github.com/netkit-go/netkit/tlsconfig"
)

// Defaults of HTTP2Pool.
const (
	// DefaultHTTP2MaxConnsPerOrigin bounds the HTTP/2 connections a pool
	// keeps to one origin.
	DefaultHTTP2MaxConnsPerOrigin = 16
	// DefaultHTTP2MaxStreamsPerConn bounds the WebSockets carried by one
	// pooled HTTP/2 connection (RFC 9113's recommended minimum of
	// SETTINGS_MAX_CONCURRENT_STREAMS).
	DefaultHTTP2MaxStreamsPerConn = 100
	// HTTP2FallbackMemory is how long a pool remembers that an origin
	// does not take WebSockets over HTTP/2 (ALPN chose http/1.1, or the
	// server did not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL): dials to
	// it go straight to HTTP/1.1 meanwhile.
	HTTP2FallbackMemory = time.Minute
)

// HTTP2Pool holds the HTTP/2 connections that [ClientConfig].HTTP2 dials
// share: every wss client of one origin (host and port, TLS configuration
// and proxy alike) opens its WebSocket as a stream (RFC 8441) of one of
// them, so many clients cost one TCP and TLS connection. A connection is
// opened on demand, holds at most MaxStreamsPerConn WebSockets (and no more
// than the server's SETTINGS_MAX_CONCURRENT_STREAMS), and is closed as soon
// as its last WebSocket ends or it fails; a closed or GOAWAY'd connection
// takes no new streams and leaves the pool. The zero value is ready to use;
// its fields must not change once it is in use. Safe for concurrent use.
type HTTP2Pool struct {
	// MaxConnsPerOrigin bounds the connections open to one origin. When
	// each is full, Dial fails with an [ErrConnection] error (it does not
	// wait). 0: 16.
	MaxConnsPerOrigin int
	// MaxStreamsPerConn bounds the WebSockets on one connection. 0: 100.
	MaxStreamsPerConn int

	once    sync.Once
	t       *http2.Transport
	mu      sync.Mutex
	origins map[h2Key]*h2Origin
}

// DefaultHTTP2Pool is the pool of a ClientConfig whose HTTP2Pool is nil.
var DefaultHTTP2Pool = &HTTP2Pool{}

// h2Key identifies an origin as the pool shares connections: the same
// target, SNI name, TLS configuration and proxy.
type h2Key struct {
	hostPort, server string
	ss               *tlsconfig.ClientSecureSocket
	tls              *tls.Config
	proxy            string
}

type h2Origin struct {
	conns     []*h2Conn
	h1Until   time.Time // until then, dial HTTP/1.1 (HTTP2FallbackMemory)
	h1Because string
}

// h2Conn is one pooled connection; streams counts its WebSockets and
// reservations (under the pool's mu).
type h2Conn struct {
	ready   chan struct{} // closed once dialled: cc or err set
	cc      *http2.ClientConn
	tc      *tls.Conn
	err     error
	streams int
}

func (p *HTTP2Pool) init() {
	p.once.Do(func() {
		// Only NewClientConn is used: the pool is ours, so that it is
		// bounded and keyed by the TLS configuration too.
		p.t = &http2.Transport{DisableCompression: true}
		p.origins = make(map[h2Key]*h2Origin)
	})
}

func (p *HTTP2Pool) maxConns() int {
	if p.MaxConnsPerOrigin > 0 {
		return p.MaxConnsPerOrigin
	}
	return DefaultHTTP2MaxConnsPerOrigin
}

func (p *HTTP2Pool) maxStreams() int {
	if p.MaxStreamsPerConn > 0 {
		return p.MaxStreamsPerConn
	}
	return DefaultHTTP2MaxStreamsPerConn
}

// Conns returns the number of HTTP/2 connections the pool holds (open or
// being dialled).
func (p *HTTP2Pool) Conns() int {
	p.init()
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, o := range p.origins {
		n += len(o.conns)
	}
	return n
}

// Close closes every connection of the pool at once; their WebSockets end
// with 1006. The pool stays usable.
func (p *HTTP2Pool) Close() error {
	p.init()
	p.mu.Lock()
	var ccs []*h2Conn
	for k, o := range p.origins {
		ccs = append(ccs, o.conns...)
		delete(p.origins, k)
	}
	p.mu.Unlock()
	for _, c := range ccs {
		<-c.ready // a dial in progress is bounded by its handshake timeout
		if c.cc != nil {
			c.cc.Close()
		}
	}
	return nil
}

// errH2Fallback: use HTTP/1.1 (a new connection); h1Conn: on this one.
var errH2Fallback = errors.New("websocket: fall back to HTTP/1.1")

// get reserves a stream on a connection to key, dialling one if needed.
// It returns the connection, or a TLS connection on which ALPN chose
// http/1.1 (to upgrade on), or errH2Fallback.
func (p *HTTP2Pool) get(ctx context.Context, key h2Key, dial func(context.Context) (*tls.Conn, error)) (*h2Conn, *tls.Conn, error) {
	p.init()
	for {
		p.mu.Lock()
		o := p.origins[key]
		if o == nil {
			o = &h2Origin{}
			p.origins[key] = o
		}
		if time.Now().Before(o.h1Until) {
			p.mu.Unlock()
			return nil, nil, errH2Fallback
		}
		var pick *h2Conn
		reserved := false // on pick's ClientConn
		for _, c := range o.conns {
			if c.streams >= p.maxStreams() {
				continue
			}
			select {
			case <-c.ready:
				if c.err != nil || !c.cc.ReserveNewRequest() {
					continue
				}
				reserved = true
			default: // dialling: count it now, reserve once it is ready
			}
			pick = c
			break
		}
		if pick != nil {
			pick.streams++
			p.mu.Unlock()
			select {
			case <-pick.ready:
			case <-ctx.Done():
				p.release(key, pick)
				return nil, nil, context.Cause(ctx)
			}
			if pick.err != nil {
				p.release(key, pick)
				if errors.Is(pick.err, errH2Fallback) {
					return nil, nil, errH2Fallback
				}
				continue // the dial failed for its dialer; try ours
			}
			if !reserved && !pick.cc.ReserveNewRequest() { // the server's limit
				p.release(key, pick)
				continue
			}
			return pick, nil, nil
		}
		if len(o.conns) >= p.maxConns() {
			p.mu.Unlock()
			return nil, nil, connErr(errors.New("the HTTP/2 pool to " + key.hostPort + " is full (" +
				strconv.Itoa(p.maxConns()) + " connections of " + strconv.Itoa(p.maxStreams()) + " streams)"))
		}
		c := &h2Conn{ready: make(chan struct{}), streams: 1}
		o.conns = append(o.conns, c)
		p.mu.Unlock()

		tc, err := dial(ctx)
		if err == nil && tc.ConnectionState().NegotiatedProtocol != http2.NextProtoTLS {
			p.noH2(key, "ALPN chose "+strconv.Quote(tc.ConnectionState().NegotiatedProtocol))
			c.err = errH2Fallback
			close(c.ready)
			p.release(key, c)
			return nil, tc, nil
		}
		if err == nil {
			c.tc = tc
			c.cc, err = p.t.NewClientConn(tc)
			if err != nil {
				tc.Close()
			} else if !c.cc.ReserveNewRequest() {
				err = errors.New("websocket: a new HTTP/2 connection takes no stream")
				c.cc.Close()
			}
		}
		if err != nil {
			c.err = err
			close(c.ready)
			p.release(key, c)
			return nil, nil, err
		}
		close(c.ready)
		return c, nil, nil
	}
}

// noH2 remembers that key's server does not take WebSockets over HTTP/2.
func (p *HTTP2Pool) noH2(key h2Key, why string) {
	p.mu.Lock()
	if o := p.origins[key]; o != nil {
		o.h1Until = time.Now().Add(HTTP2FallbackMemory)
		o.h1Because = why
	}
	p.mu.Unlock()
}

// release gives a stream's place back; the connection closes with its last
// stream.
func (p *HTTP2Pool) release(key h2Key, c *h2Conn) {
	p.mu.Lock()
	c.streams--
	last := c.streams == 0
	if last {
		if o := p.origins[key]; o != nil {
			for i, oc := range o.conns {
				if oc == c {
					o.conns = append(o.conns[:i], o.conns[i+1:]...)
					break
				}
			}
			if len(o.conns) == 0 && !time.Now().Before(o.h1Until) {
				delete(p.origins, key)
			}
		}
	}
	p.mu.Unlock()
	if last && c.cc != nil {
		c.cc.Close()
	}
}

// errExtendedConnect matches golang.org/x/net/http2's unexported error for
// a server whose first SETTINGS did not enable extended CONNECT.
const errExtendedConnect = "extended connect not supported by peer"

// dialH2 runs the opening handshake as an RFC 8441 extended CONNECT on a
// pooled connection. req is the HTTP/1.1 upgrade request already built
// (headers, cookies, auth, trace context). It returns errH2Fallback when the
// server does not take WebSockets over HTTP/2, or the handshake of an
// HTTP/1.1 upgrade when ALPN chose http/1.1 on the connection it dialled.
func (d *dialer) dialH2(ctx context.Context, req *http.Request, ch *wsproto.ClientHandshake) (*handshake, error) {
	pool := d.cfg.HTTP2Pool
	if pool == nil {
		pool = DefaultHTTP2Pool
	}
	pu, err := d.proxyURL(req)
	if err != nil {
		return nil, err
	}
	key := h2Key{hostPort: d.hostPort, server: d.url.Hostname(), ss: d.ss, tls: d.cfg.TLSConfig}
	if pu != nil {
		key.proxy = pu.String()
	}
	c, h1, err := pool.get(ctx, key, func(ctx context.Context) (*tls.Conn, error) {
		nc, err := d.connectVia(ctx, pu)
		if err != nil {
			return nil, err
		}
		return d.tlsHandshake(ctx, nc, []string{http2.NextProtoTLS, "http/1.1"})
	})
	if err != nil {
		return nil, err
	}
	if h1 != nil {
		return d.upgrade(ctx, req, ch, h1)
	}

	hdr := req.Header.Clone()
	ch.SetH2RequestHeaders(hdr)
	hdr.Set(":protocol", "websocket")
	h2req := &http.Request{
		Method:     http.MethodConnect,
		URL:        &url.URL{Scheme: "https", Host: req.Host, Path: req.URL.Path, RawPath: req.URL.RawPath, RawQuery: req.URL.RawQuery},
		Proto:      "HTTP/2.0",
		ProtoMajor: 2,
		Header:     hdr,
		Host:       req.Host,
	}
	resp, s, err := h2ext.Connect(ctx, c.cc, c.tc, h2req, func() { pool.release(key, c) })
	if err != nil {
		pool.release(key, c)
		if strings.Contains(err.Error(), errExtendedConnect) {
			pool.noH2(key, "no SETTINGS_ENABLE_CONNECT_PROTOCOL")
			return nil, errH2Fallback
		}
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, connErr(err)
	}
	shown := *resp
	if s != nil {
		shown.Body = http.NoBody // the stream's: not for the caller
	}
	res, err := wsproto.CheckH2Response(&shown, ch)
	if err != nil {
		err = handshakeFailed(&shown, err, http.StatusOK) // reads the body, still bounded by ctx
		if s != nil {
			s.Close()
		} else {
			pool.release(key, c)
		}
		return nil, err
	}
	return &handshake{nc: s, resp: &shown, result: res}, nil
}
