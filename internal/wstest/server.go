package wstest

import (
	"bufio"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/wsproto"
)

// DefaultTimeout is the handshake and write timeout used when
// [Options] leaves them zero.
const DefaultTimeout = 5 * time.Second

// MaxMessageSize is the largest message the server accepts; a larger one
// closes the connection.
const MaxMessageSize = 8 << 20

// Options configures a server started by [Start]. The zero value is a
// plain ws:// echo server without compression and with the default
// timeouts.
type Options struct {
	// Broadcast sends each data message to every other open connection
	// instead of echoing it to its sender. Default false: echo.
	Broadcast bool
	// Deflate accepts permessage-deflate (RFC 7692) when a client offers
	// it; data messages to that client are then compressed. Default false:
	// extensions are declined.
	Deflate bool
	// Certificate, when not nil, makes the server speak TLS with it and
	// Start return a wss:// URL. Default nil: plain ws://.
	Certificate *tls.Certificate
	// HandshakeTimeout bounds the time from accept until the upgrade
	// request (with the TLS handshake) has been read; a slower client is
	// disconnected. 0 means DefaultTimeout; negative means no limit.
	HandshakeTimeout time.Duration
	// WriteTimeout bounds each write; a write that fails or times out
	// closes the connection, so a stalled subscriber is dropped. 0 means
	// DefaultTimeout; negative means no limit.
	WriteTimeout time.Duration
}

// server is a running test server.
type server struct {
	ln   net.Listener
	opts Options
	wg   sync.WaitGroup

	mu     sync.Mutex
	closed bool
	all    map[net.Conn]bool // every accepted connection, to close on cleanup
	conns  map[*conn]bool    // upgraded connections, for broadcast
}

// conn is an upgraded connection; writes are serialized by wmu.
type conn struct {
	nc   net.Conn
	wmu  sync.Mutex
	comp *wsproto.Compressor
	buf  []byte
}

// Start starts a server on 127.0.0.1 port 0 and returns its URL,
// "ws://127.0.0.1:port/" or, with a certificate, "wss://127.0.0.1:port/".
// It registers with tb.Cleanup the server's shutdown: the listener and
// every connection are closed and Cleanup waits for the server's
// goroutines to exit.
func Start(tb testing.TB, opts Options) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	scheme := "ws"
	if opts.Certificate != nil {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{*opts.Certificate}})
		scheme = "wss"
	}
	s := &server{ln: ln, opts: opts, all: map[net.Conn]bool{}, conns: map[*conn]bool{}}
	s.wg.Add(1)
	go s.accept()
	tb.Cleanup(s.close)
	return scheme + "://" + ln.Addr().String() + "/"
}

func (s *server) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.all[nc] = true
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.serve(nc)
			nc.Close()
			s.mu.Lock()
			delete(s.all, nc)
			s.mu.Unlock()
		}()
	}
}

func (s *server) close() {
	s.ln.Close()
	s.mu.Lock()
	s.closed = true
	for nc := range s.all {
		nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// deadline returns the deadline for timeout d (0: DefaultTimeout,
// negative: none).
func deadline(d time.Duration) time.Time {
	switch {
	case d == 0:
		d = DefaultTimeout
	case d < 0:
		return time.Time{}
	}
	return time.Now().Add(d)
}

// write sends p as one frame, compressed when negotiated and op is a data
// opcode. A failed write closes the connection.
func (c *conn) write(op wsproto.Opcode, p []byte, timeout time.Duration) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	h := wsproto.Header{Fin: true, Opcode: op}
	if c.comp != nil && op.IsData() {
		if out, ok := c.comp.Compress(nil, p); ok {
			p, h.Rsv1 = out, true
		}
	}
	c.buf = wsproto.AppendFrame(c.buf[:0], h, p)
	c.nc.SetWriteDeadline(deadline(timeout))
	_, err := c.nc.Write(c.buf)
	if err != nil {
		c.nc.Close()
	}
	return err
}

func (s *server) serve(nc net.Conn) {
	br := bufio.NewReader(nc)
	nc.SetReadDeadline(deadline(s.opts.HandshakeTimeout))
	req, err := http.ReadRequest(br)
	if err != nil || wsproto.CheckRequest(req) != nil {
		return
	}
	nc.SetReadDeadline(time.Time{})
	c := &conn{nc: nc}
	var dec *wsproto.Decompressor
	ext := ""
	if s.opts.Deflate {
		if p, resp, ok := wsproto.NegotiateServer(wsproto.ParseExtensions(req.Header), wsproto.DeflateConfig{}); ok {
			ext = resp
			c.comp = wsproto.NewCompressor(p, wsproto.RoleServer, wsproto.DeflateConfig{})
			dec = wsproto.NewDecompressor(p, wsproto.RoleServer)
		}
	}
	// Registered before the response is sent (and the response sent before
	// any broadcast, which waits for wmu), so a client that has read the
	// response receives every later broadcast.
	c.wmu.Lock()
	s.mu.Lock()
	s.conns[c] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.wmu.Lock()
		if c.comp != nil {
			c.comp.Close()
			c.comp = nil
		}
		c.wmu.Unlock()
	}()
	nc.SetWriteDeadline(deadline(s.opts.WriteTimeout))
	_, err = nc.Write(wsproto.AppendResponse(nil, wsproto.RequestKey(req), "", ext, nil))
	c.wmu.Unlock()
	if err != nil {
		return
	}
	var mr wsproto.MessageReader
	mr.Init(wsproto.ReaderConfig{Role: wsproto.RoleServer, MaxMessageSize: MaxMessageSize}, dec)
	defer mr.Reset()
	buf := make([]byte, 64<<10)
	for {
		n, err := br.Read(buf)
		if err != nil {
			return
		}
		for p := buf[:n]; len(p) > 0; {
			k, m, err := mr.Parse(p)
			if err != nil {
				return
			}
			p = p[k:]
			if !s.handle(c, m) {
				return
			}
			mr.Release()
		}
	}
}

// handle answers one message from c; it returns false when c is done.
func (s *server) handle(c *conn, m wsproto.Message) bool {
	wt := s.opts.WriteTimeout
	switch m.Op {
	case wsproto.OpText, wsproto.OpBinary:
		if !s.opts.Broadcast {
			return c.write(m.Op, m.Data, wt) == nil
		}
		s.mu.Lock()
		others := make([]*conn, 0, len(s.conns))
		for o := range s.conns {
			if o != c {
				others = append(others, o)
			}
		}
		s.mu.Unlock()
		for _, o := range others {
			o.write(m.Op, m.Data, wt)
		}
	case wsproto.OpPing:
		c.write(wsproto.OpPong, m.Data, wt)
	case wsproto.OpClose:
		c.write(wsproto.OpClose, m.Data[:min(len(m.Data), 2)], wt)
		return false
	}
	return true
}
