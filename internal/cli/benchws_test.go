package cli

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/wsproto"
)

// rawWS is a minimal WebSocket echo (or broadcast) server written on
// internal/wsproto's pure helpers, independent of the websocket package, so
// that the load generator's counts are checked against a server whose
// behaviour is plain.
type rawWS struct {
	ln        net.Listener
	broadcast bool
	wg        sync.WaitGroup
	mu        sync.Mutex
	conns     map[*rawWSConn]bool
}

type rawWSConn struct {
	nc   net.Conn
	wmu  sync.Mutex
	comp *wsproto.Compressor
	buf  []byte
}

func startRawWS(t *testing.T, broadcast bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveRawWS(t, ln, broadcast, "ws")
}

// startRawWSS is startRawWS over TLS, with a self-signed ECDSA P-256
// certificate for 127.0.0.1; it returns the wss:// URL and the path of
// the certificate's PEM file.
func startRawWSS(t *testing.T) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	if err != nil {
		t.Fatal(err)
	}
	return serveRawWS(t, ln, false, "wss"), ca
}

func serveRawWS(t *testing.T, ln net.Listener, broadcast bool, scheme string) string {
	s := &rawWS{ln: ln, broadcast: broadcast, conns: map[*rawWSConn]bool{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.serve(nc) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.nc.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return scheme + "://" + ln.Addr().String() + "/"
}

func (c *rawWSConn) write(op wsproto.Opcode, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	h := wsproto.Header{Fin: true, Opcode: op}
	if c.comp != nil && op.IsData() {
		out, ok := c.comp.Compress(nil, p)
		if ok {
			p, h.Rsv1 = out, true
		}
	}
	h.Length = int64(len(p))
	c.buf = wsproto.AppendFrame(c.buf[:0], h, p)
	c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := c.nc.Write(c.buf)
	return err
}

func (s *rawWS) serve(nc net.Conn) {
	defer nc.Close()
	br := bufio.NewReader(nc)
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	req, err := http.ReadRequest(br)
	if err != nil || wsproto.CheckRequest(req) != nil {
		return
	}
	nc.SetReadDeadline(time.Time{})
	c := &rawWSConn{nc: nc}
	var dec *wsproto.Decompressor
	ext := ""
	if p, resp, ok := wsproto.NegotiateServer(wsproto.ParseExtensions(req.Header), wsproto.DeflateConfig{}); ok {
		ext = resp
		c.comp = wsproto.NewCompressor(p, wsproto.RoleServer, wsproto.DeflateConfig{})
		dec = wsproto.NewDecompressor(p, wsproto.RoleServer)
	}
	if _, err := nc.Write(wsproto.AppendResponse(nil, wsproto.RequestKey(req), "", ext, nil)); err != nil {
		return
	}
	s.mu.Lock()
	s.conns[c] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	var mr wsproto.MessageReader
	mr.Init(wsproto.ReaderConfig{Role: wsproto.RoleServer, MaxMessageSize: 1 << 20, Compression: dec != nil}, dec)
	buf := make([]byte, 64<<10)
	for {
		n, err := br.Read(buf)
		if err != nil {
			return
		}
		p := buf[:n]
		for len(p) > 0 {
			k, m, err := mr.Parse(p)
			if err != nil {
				return
			}
			p = p[k:]
			switch m.Op {
			case wsproto.OpText, wsproto.OpBinary:
				if s.broadcast {
					s.mu.Lock()
					for o := range s.conns {
						if o != c {
							o.write(m.Op, m.Data)
						}
					}
					s.mu.Unlock()
				} else if c.write(m.Op, m.Data) != nil {
					return
				}
			case wsproto.OpPing:
				c.write(wsproto.OpPong, m.Data)
			case wsproto.OpClose:
				c.write(wsproto.OpClose, m.Data[:min(len(m.Data), 2)])
				return
			}
			mr.Release()
		}
	}
}
