package loadgen

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/wsproto"
)

// testCert returns a self-signed ECDSA P-256 certificate for 127.0.0.1
// and the path of its PEM file (to trust as a CA).
func testCert(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "loadgen test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, path
}

// testWS is a minimal WebSocket echo or broadcast server on
// internal/wsproto's helpers, over TLS when given a certificate.
type testWS struct {
	ln        net.Listener
	broadcast bool
	// hsTimeout bounds reading the upgrade request.
	hsTimeout time.Duration
	// writeTimeout bounds each write; a failed write closes the
	// connection (a stalled subscriber is dropped).
	writeTimeout time.Duration
	wg           sync.WaitGroup
	mu           sync.Mutex
	conns        map[*testWSConn]bool
	all          map[net.Conn]bool
}

type testWSConn struct {
	nc  net.Conn
	wmu sync.Mutex
	buf []byte
}

func startTestWS(t *testing.T, cert *tls.Certificate, broadcast bool, hsTimeout, writeTimeout time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	scheme := "ws"
	if cert != nil {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{*cert}})
		scheme = "wss"
	}
	s := &testWS{ln: ln, broadcast: broadcast, hsTimeout: hsTimeout, writeTimeout: writeTimeout,
		conns: map[*testWSConn]bool{}, all: map[net.Conn]bool{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.all[nc] = true
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(nc)
				s.mu.Lock()
				delete(s.all, nc)
				s.mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for c := range s.all {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return scheme + "://" + ln.Addr().String() + "/"
}

func (c *testWSConn) write(op wsproto.Opcode, p []byte, timeout time.Duration) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.buf = wsproto.AppendFrame(c.buf[:0], wsproto.Header{Fin: true, Opcode: op, Length: int64(len(p))}, p)
	c.nc.SetWriteDeadline(time.Now().Add(timeout))
	_, err := c.nc.Write(c.buf)
	if err != nil {
		c.nc.Close()
	}
	return err
}

func (s *testWS) serve(nc net.Conn) {
	defer nc.Close()
	br := bufio.NewReader(nc)
	nc.SetReadDeadline(time.Now().Add(s.hsTimeout))
	req, err := http.ReadRequest(br)
	if err != nil || wsproto.CheckRequest(req) != nil {
		return
	}
	nc.SetReadDeadline(time.Time{})
	if _, err := nc.Write(wsproto.AppendResponse(nil, wsproto.RequestKey(req), "", "", nil)); err != nil {
		return
	}
	c := &testWSConn{nc: nc}
	s.mu.Lock()
	s.conns[c] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	var mr wsproto.MessageReader
	mr.Init(wsproto.ReaderConfig{Role: wsproto.RoleServer, MaxMessageSize: 8 << 20}, nil)
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
					others := make([]*testWSConn, 0, len(s.conns))
					for o := range s.conns {
						if o != c {
							others = append(others, o)
						}
					}
					s.mu.Unlock()
					for _, o := range others {
						o.write(m.Op, m.Data, s.writeTimeout)
					}
				} else if c.write(m.Op, m.Data, s.writeTimeout) != nil {
					return
				}
			case wsproto.OpPing:
				c.write(wsproto.OpPong, m.Data, s.writeTimeout)
			case wsproto.OpClose:
				c.write(wsproto.OpClose, m.Data[:min(len(m.Data), 2)], s.writeTimeout)
				return
			}
			mr.Release()
		}
	}
}

func runTest(t *testing.T, cfg Config) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg.ServerPID = os.Getpid()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("%+v: %v", cfg, err)
	}
	return res
}

// TestWSSEcho checks the counts of echo runs over wss://, verified against
// a CA file, with TLS 1.3 and 1.2.
func TestWSSEcho(t *testing.T) {
	cert, ca := testCert(t)
	url := startTestWS(t, &cert, false, 5*time.Second, 5*time.Second)
	for _, v := range []string{"1.3", "1.2"} {
		t.Run(v, func(t *testing.T) {
			r := runTest(t, Config{Proto: "ws", Target: url, Conns: 3, Payload: 1024, MaxMessages: 300,
				Duration: 20 * time.Second, CAFile: ca, TLSVersion: v, TLSCurves: []string{"x25519", "p256"}})
			if r.Connected != 3 || r.ConnectErrors != 0 || r.Sent != 300 || r.Received != 300 || r.Errors != 0 || r.Latency.Count != 300 {
				t.Errorf("connected %d/%d, sent %d, received %d, errors %d, latencies %d (%s)",
					r.Connected, r.ConnectErrors, r.Sent, r.Received, r.Errors, r.Latency.Count, r.FirstError)
			}
			if want := "TLS " + v + " "; !strings.HasPrefix(r.TLS, want) || !strings.HasSuffix(r.TLS, "X25519") {
				t.Errorf("TLS %q, want %q... X25519", r.TLS, want)
			}
		})
	}
}

// TestWSSHandshakeAndVerify checks handshake mode over wss:// with
// verification off, and that an unknown certificate fails verification.
func TestWSSHandshakeAndVerify(t *testing.T) {
	cert, _ := testCert(t)
	url := startTestWS(t, &cert, false, 5*time.Second, 5*time.Second)
	r := runTest(t, Config{Proto: "ws", Target: url, Mode: ModeHandshake, Conns: 2, MaxMessages: 30,
		Duration: 20 * time.Second, Insecure: true})
	if r.Connected != 30 || r.ConnectErrors != 0 || r.Latency.Count != 30 || r.TLS == "" {
		t.Errorf("handshakes %d (errors %d, %q), latencies %d, TLS %q", r.Connected, r.ConnectErrors, r.FirstError, r.Latency.Count, r.TLS)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := Run(ctx, Config{Proto: "ws", Target: url, Conns: 1, Duration: time.Second})
	if err == nil || res.Connected != 0 || res.ConnectErrors != 1 || !strings.Contains(res.FirstError, "certificate") {
		t.Errorf("unverifiable server: %v, connected %d, errors %d (%s)", err, res.Connected, res.ConnectErrors, res.FirstError)
	}
}

// TestIdleBurst checks idle mode's burst of large messages over wss://.
func TestIdleBurst(t *testing.T) {
	cert, ca := testCert(t)
	url := startTestWS(t, &cert, false, 5*time.Second, 5*time.Second)
	const conns, size = 4, 300 << 10
	r := runTest(t, Config{Proto: "ws", Target: url, Mode: ModeIdle, Conns: conns, Hold: 20 * time.Millisecond,
		Burst: size, BurstHold: 20 * time.Millisecond, Duration: 20 * time.Second, CAFile: ca})
	b := r.Burst
	if r.Connected != conns || b == nil || b.Echoed != conns || b.Errors != 0 || r.Received != conns || r.Latency.Count != conns {
		t.Fatalf("connected %d, burst %+v, received %d, latencies %d (%s)", r.Connected, b, r.Received, r.Latency.Count, r.FirstError)
	}
	if b.Bytes != size || b.After.RSS <= 0 || b.Settled.RSS <= 0 || b.Seconds <= 0 || b.Seconds > 20 {
		t.Errorf("burst %+v", b)
	}
}

// TestBroadcastStall checks that a stalled subscriber's full path is
// detected, and the server's closing of it: the server drops a
// connection whose write does not finish within 300 ms.
func TestBroadcastStall(t *testing.T) {
	url := startTestWS(t, nil, true, 5*time.Second, 300*time.Millisecond)
	// 64 KiB at 200 Hz: 13 MB/s, far more than the kernel buffers.
	r := runTest(t, Config{Proto: "ws", Target: url, Mode: ModeBroadcast, Conns: 4, Stalled: 1, Payload: 64 << 10,
		Rate: 200, Duration: 2 * time.Second})
	st := r.Stall
	if st == nil || !st.Checked || len(st.Conns) != 1 {
		t.Fatalf("stall report %+v", st)
	}
	c := st.Conns[0]
	t.Logf("stalled subscriber %+v; before %+v; after %+v", c, st.Before, st.After)
	if c.StalledAt < 0 || st.At != c.StalledAt || c.AcceptedMax <= 0 || c.ServerSendQMax <= 0 || c.DueBytes <= c.AcceptedMax+c.ServerSendQMax {
		t.Errorf("not seen stalled: %+v", c)
	}
	if c.ClosedAt < c.StalledAt || c.ServerState == "ESTABLISHED" {
		t.Errorf("the server's close not seen: %+v", c)
	}
	if st.Before.Count+st.After.Count != r.Latency.Count || r.Measured == 0 {
		t.Errorf("latencies: %d before + %d after, %d in all", st.Before.Count, st.After.Count, r.Latency.Count)
	}
	if st.ServerRSSMax <= 0 || st.ServerRSSAtStall <= 0 || st.Watched < 2 {
		t.Errorf("server RSS not sampled: %+v", st)
	}
}

// TestSlowloris checks that slow connections closed by the server are
// counted, with the time they lasted.
func TestSlowloris(t *testing.T) {
	url := startTestWS(t, nil, false, 300*time.Millisecond, 5*time.Second)
	r := runTest(t, Config{Proto: "ws", Target: url, Conns: 1, Rate: 100, Duration: 1500 * time.Millisecond,
		Slow: 3, SlowInterval: 10 * time.Millisecond})
	if r.SlowOpened != 3 || r.SlowClosed != 3 || r.SlowClose == nil || r.SlowClose.N != 3 {
		t.Fatalf("slow: opened %d closed %d %+v", r.SlowOpened, r.SlowClosed, r.SlowClose)
	}
	if s := r.SlowClose; s.Min < 0.2 || s.Max > 1.2 {
		t.Errorf("closed after %+v, want about 0.3 s", s)
	}
	if r.Sent == 0 || r.Received != r.Sent || r.Errors != 0 {
		t.Errorf("normal conn: sent %d received %d errors %d", r.Sent, r.Received, r.Errors)
	}
}
