package websocket_test

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/wsproto"
	"github.com/netkit-go/netkit/websocket"
)

// A raw-frame WebSocket server for probing the client: it answers the
// handshake itself and then speaks frames byte by byte.

type clRawServer struct {
	url string
	ln  net.Listener
	wg  sync.WaitGroup
	// Over HTTP/2 (clNewRawServerH2): the client's TLS configuration and
	// the test's pool; nil for the HTTP/1.1 server.
	h2   *tls.Config
	pool *websocket.HTTP2Pool
}

type clRawConn struct {
	t    testing.TB
	nc   net.Conn
	br   *bufio.Reader
	req  *http.Request
	done chan struct{} // closed at test cleanup
}

type clFrame struct {
	fin     bool
	rsv     byte
	op      byte
	masked  bool
	payload []byte
}

// clNewRawServer serves each connection with handle after a 101 answer
// (extraResp is added to the response; none by default).
func clNewRawServer(t testing.TB, handle func(rc *clRawConn)) *clRawServer {
	return clNewRawServerResp(t, "", handle)
}

func clNewRawServerResp(t testing.TB, extraResp string, handle func(rc *clRawConn)) *clRawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &clRawServer{url: "ws://" + ln.Addr().String() + "/raw", ln: ln}
	done := make(chan struct{})
	var mu sync.Mutex
	var conns []net.Conn
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer nc.Close()
				br := bufio.NewReader(nc)
				nc.SetDeadline(time.Now().Add(10 * time.Second))
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				key := req.Header.Get("Sec-WebSocket-Key")
				resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
					wsproto.AcceptKey(key) + "\r\n" + extraResp + "\r\n"
				if _, err := nc.Write([]byte(resp)); err != nil {
					return
				}
				nc.SetDeadline(time.Time{})
				handle(&clRawConn{t: t, nc: nc, br: br, req: req, done: done})
			}()
		}
	}()
	t.Cleanup(func() {
		close(done)
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		s.wg.Wait()
	})
	return s
}

// writeFrame writes an unmasked (server) frame, or a masked one.
func (rc *clRawConn) writeFrame(fin bool, rsv, op byte, payload []byte, mask bool) error {
	b := []byte{rsv<<4 | op}
	if fin {
		b[0] |= 0x80
	}
	var mbit byte
	if mask {
		mbit = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, mbit|byte(n))
	case n < 1<<16:
		b = append(b, mbit|126, byte(n>>8), byte(n))
	default:
		b = append(b, mbit|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	p := append([]byte(nil), payload...)
	if mask {
		key := [4]byte{1, 2, 3, 4}
		b = append(b, key[:]...)
		for i := range p {
			p[i] ^= key[i%4]
		}
	}
	_, err := rc.nc.Write(append(b, p...))
	return err
}

// readFrame reads one frame (unmasking it), bounded by 5 s.
func (rc *clRawConn) readFrame() (clFrame, error) {
	rc.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer rc.nc.SetReadDeadline(time.Time{})
	var h [2]byte
	if _, err := io.ReadFull(rc.br, h[:]); err != nil {
		return clFrame{}, err
	}
	f := clFrame{fin: h[0]&0x80 != 0, rsv: (h[0] >> 4) & 7, op: h[0] & 0xf, masked: h[1]&0x80 != 0}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		if _, err := io.ReadFull(rc.br, e[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		if _, err := io.ReadFull(rc.br, e[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(e[:])
	}
	if n > 64<<20 {
		return f, fmt.Errorf("frame of %d bytes", n)
	}
	var key [4]byte
	if f.masked {
		if _, err := io.ReadFull(rc.br, key[:]); err != nil {
			return f, err
		}
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(rc.br, f.payload); err != nil {
		return f, err
	}
	if f.masked {
		for i := range f.payload {
			f.payload[i] ^= key[i%4]
		}
	}
	return f, nil
}

// readClose reads frames until a close frame and returns its code (-1 if
// the connection ended first, 1005 for an empty close).
func (rc *clRawConn) readClose() int {
	for i := 0; i < 1000; i++ {
		f, err := rc.readFrame()
		if err != nil {
			return -1
		}
		if f.op == 8 {
			if len(f.payload) < 2 {
				return 1005
			}
			return int(binary.BigEndian.Uint16(f.payload))
		}
	}
	return -1
}

func clClosePayload(code int, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}
