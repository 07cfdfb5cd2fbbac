package websocket_test

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/websocket"
)

// The raw-frame server of client_raw_test.go over HTTP/2 (RFC 8441): a
// golang.org/x/net/http2 TLS server answers each extended CONNECT with 200
// and hands the stream (request body and response writer, as a net.Conn)
// to the same handle functions, so the client's conformance cases run over
// both transports.

// clTransport is how a client test reaches its raw-frame server.
type clTransport struct {
	name  string
	serve func(t testing.TB, handle func(rc *clRawConn)) *clRawServer
}

// clTransports are the HTTP/1.1 Upgrade (a TCP connection per socket) and
// RFC 8441 (a stream per socket).
var clTransports = []clTransport{{"http1", clNewRawServer}, {"h2", clNewRawServerH2}}

// config returns cfg (nil: the zero config) with what a client needs to
// reach s: over HTTP/2, ClientConfig.HTTP2 with the server's CA and a
// pool of the test's own.
func (s *clRawServer) config(cfg *websocket.ClientConfig) *websocket.ClientConfig {
	var c websocket.ClientConfig
	if cfg != nil {
		c = *cfg
	}
	if s.h2 != nil {
		c.HTTP2, c.HTTP2Pool, c.TLSConfig, c.Proxy = true, s.pool, s.h2, websocket.NoProxy
	}
	return &c
}

// clNewRawServerH2 serves each RFC 8441 stream with handle after a 200.
func clNewRawServerH2(t testing.TB, handle func(rc *clRawConn)) *clRawServer {
	t.Helper()
	done := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect || r.Header.Get(":protocol") != "websocket" {
			http.Error(w, "RFC 8441 only", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		if rc.Flush() != nil {
			return
		}
		nc := &clH2Stream{w: w, r: r, rc: rc}
		handle(&clRawConn{t: t, nc: nc, br: bufio.NewReader(nc), req: r, done: done})
	}))
	srv.Config.ErrorLog = nil
	serverTLS, clientTLS := netkittest.TLSPair(t)
	srv.Config.TLSConfig = serverTLS
	if err := http2.ConfigureServer(srv.Config, nil); err != nil {
		t.Fatal(err)
	}
	srv.TLS = srv.Config.TLSConfig
	srv.StartTLS()
	pool := &websocket.HTTP2Pool{}
	t.Cleanup(func() {
		close(done)
		pool.Close()
		srv.CloseClientConnections()
		srv.Close()
	})
	return &clRawServer{url: "wss://" + srv.Listener.Addr().String() + "/raw", h2: clientTLS, pool: pool}
}

// clH2Stream is a server's RFC 8441 stream as a net.Conn: reads from the
// request body, writes flushed to the response, deadlines through
// http.ResponseController (golang.org/x/net/http2 supports them per
// stream).
type clH2Stream struct {
	w  http.ResponseWriter
	r  *http.Request
	rc *http.ResponseController

	mu sync.Mutex // writes
}

func (s *clH2Stream) Read(p []byte) (int, error) { return s.r.Body.Read(p) }

func (s *clH2Stream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.w.Write(p)
	if err == nil {
		err = s.rc.Flush()
	}
	return n, err
}

// Close ends the server's reads; the stream ends when handle returns.
func (s *clH2Stream) Close() error { return s.r.Body.Close() }

func (s *clH2Stream) LocalAddr() net.Addr  { return clAddr(s.r.Host) }
func (s *clH2Stream) RemoteAddr() net.Addr { return clAddr(s.r.RemoteAddr) }

func (s *clH2Stream) SetDeadline(t time.Time) error {
	s.rc.SetReadDeadline(t)
	return s.rc.SetWriteDeadline(t)
}
func (s *clH2Stream) SetReadDeadline(t time.Time) error  { return s.rc.SetReadDeadline(t) }
func (s *clH2Stream) SetWriteDeadline(t time.Time) error { return s.rc.SetWriteDeadline(t) }

// clAddr is an address string as a net.Addr.
type clAddr string

func (a clAddr) Network() string { return "tcp" }
func (a clAddr) String() string  { return string(a) }
