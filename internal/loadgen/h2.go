package loadgen

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http2"

	"github.com/netkit-go/netkit/internal/h2ext"
	"github.com/netkit-go/netkit/internal/wsproto"
)

// h2Group is one shared HTTP/2 connection of an H2 run: the WebSockets
// assigned to it are its streams (RFC 8441 extended CONNECT).
type h2Group struct {
	mu   sync.Mutex
	cc   *http2.ClientConn
	tc   *tls.Conn
	err  error
	done bool
}

// h2Conn returns the connection of group i, dialling it on first use.
func (r *run) h2Conn(ctx context.Context, g *h2Group) (*http2.ClientConn, *tls.Conn, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.done {
		return g.cc, g.tc, g.err
	}
	nc, err := r.dialRaw(ctx, 0)
	if err == nil {
		tc := nc.(*tls.Conn)
		if p := tc.ConnectionState().NegotiatedProtocol; p != http2.NextProtoTLS {
			tc.Close()
			err = fmt.Errorf("h2: ALPN chose %q, not h2", p)
		} else {
			tc.SetDeadline(time.Time{})
			g.tc = tc
			g.cc, err = (&http2.Transport{DisableCompression: true}).NewClientConn(tc)
		}
	}
	if err != nil {
		// A failed dial is not cached: the next socket tries again.
		return nil, nil, err
	}
	g.done = true
	return g.cc, g.tc, nil
}

// dialH2WS opens one WebSocket as a stream of a shared connection, the
// groups taken in turn.
func (r *run) dialH2WS(ctx context.Context) (*wsConn, error) {
	g := r.h2Groups[int(r.h2Next.Add(1)-1)%len(r.h2Groups)]
	cc, tc, err := r.h2Conn(ctx, g)
	if err != nil {
		return nil, err
	}
	t := r.wsURL
	path, query, _ := strings.Cut(t.path, "?")
	req, err := http.NewRequest(http.MethodConnect, "https://"+t.host+path, nil)
	if err != nil {
		return nil, err
	}
	req.URL.RawQuery = query
	req.Header.Set(":protocol", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	switch r.cfg.Compress {
	case CompressNoTakeover:
		req.Header.Set("Sec-WebSocket-Extensions", "permessage-deflate; client_no_context_takeover; server_no_context_takeover")
	case CompressTakeover:
		req.Header.Set("Sec-WebSocket-Extensions", "permessage-deflate; client_no_context_takeover")
	}
	resp, s, err := h2ext.Connect(ctx, cc, tc, req, func() {})
	if err != nil {
		return nil, fmt.Errorf("h2 handshake: %w", err)
	}
	if s == nil {
		resp.Body.Close()
		return nil, fmt.Errorf("h2 handshake: status %s", resp.Status)
	}
	w := &wsConn{nc: s, br: bufio.NewReaderSize(s, 4096), text: r.cfg.Text}
	if ext := strings.ToLower(strings.Join(resp.Header.Values("Sec-WebSocket-Extensions"), ",")); strings.Contains(ext, "permessage-deflate") {
		if r.cfg.Compress == "" {
			s.Close()
			return nil, errors.New("h2 handshake: server chose permessage-deflate unoffered")
		}
		w.comp = wsproto.NewCompressorLevel(1, -1, false)
		w.dec = wsproto.NewDecompressorTakeover(!strings.Contains(ext, "server_no_context_takeover"))
	}
	return w, nil
}

// closeH2 closes the shared connections at the end of the run.
func (r *run) closeH2() {
	for _, g := range r.h2Groups {
		g.mu.Lock()
		if g.cc != nil {
			g.cc.Close()
		}
		g.mu.Unlock()
	}
}
