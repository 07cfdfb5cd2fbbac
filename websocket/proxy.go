package websocket

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/netkit-go/netkit/internal/tlsconf"
)

// connectProxy opens a tunnel to the target through the HTTP or HTTPS proxy
// pu with CONNECT. The TLS session to an https proxy uses the proxy's name;
// the WebSocket's own TLS (wss) then runs inside the tunnel with the
// target's name.
func (d *dialer) connectProxy(ctx context.Context, pu *url.URL) (net.Conn, error) {
	scheme := strings.ToLower(pu.Scheme)
	port := pu.Port()
	switch scheme {
	case "http", "":
		if port == "" {
			port = "80"
		}
	case "https":
		if port == "" {
			port = "443"
		}
	default:
		return nil, &ProxyError{Proxy: pu.Redacted(), Err: errUnsupportedProxy(pu.Scheme)}
	}
	paddr := net.JoinHostPort(pu.Hostname(), port)
	nc, err := d.netDialer().DialContext(ctx, "tcp", paddr)
	if err != nil {
		return nil, &ProxyError{Proxy: pu.Redacted(), Err: connErr(err)}
	}
	ok := false
	defer func() {
		if !ok {
			nc.Close()
		}
	}()
	if scheme == "https" {
		conf, err := tlsconf.ClientConfig(d.ss, d.cfg.TLSConfig, pu.Hostname())
		if err != nil {
			return nil, &ProxyError{Proxy: pu.Redacted(), Err: err}
		}
		conf.NextProtos = []string{"http/1.1"}
		tc := tls.Client(nc, conf)
		var hsTimeout time.Duration
		if d.cfg.SecureSocket != nil {
			hsTimeout = d.cfg.SecureSocket.HandshakeTimeout
		}
		if err := tlsconf.Handshake(ctx, tc, hsTimeout); err != nil {
			return nil, &ProxyError{Proxy: pu.Redacted(), Err: err}
		}
		nc = tc
	}
	req := &http.Request{
		Method: http.MethodConnect,
		URL:    &url.URL{Opaque: d.hostPort},
		Host:   d.hostPort,
		Header: make(http.Header),
	}
	if pu.User != nil {
		pass, _ := pu.User.Password()
		cred := base64.StdEncoding.EncodeToString([]byte(pu.User.Username() + ":" + pass))
		req.Header.Set("Proxy-Authorization", "Basic "+cred)
	}
	stop := bindDeadline(ctx, nc)
	defer stop()
	if err := req.Write(nc); err != nil {
		return nil, &ProxyError{Proxy: pu.Redacted(), Err: connErr(err)}
	}
	// Read the answer byte-exactly: nothing past its header may be
	// consumed, since the tunnel's bytes follow.
	br := bufio.NewReaderSize(&oneByteReader{nc}, 1)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, &ProxyError{Proxy: pu.Redacted(), Err: connErr(err)}
	}
	if resp.StatusCode/100 != 2 {
		return nil, &ProxyError{Proxy: pu.Redacted(), Status: resp.StatusCode}
	}
	nc.SetDeadline(time.Time{})
	ok = true
	return nc, nil
}

type errUnsupportedProxy string

// Error returns the message.
func (e errUnsupportedProxy) Error() string {
	return "unsupported proxy scheme " + string(e) + " (http and https are)"
}

// oneByteReader reads one byte at a time, so that a bufio.Reader over it
// never reads past the proxy's response header. The header is short and
// read once per dial.
type oneByteReader struct{ nc net.Conn }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return r.nc.Read(p)
}
