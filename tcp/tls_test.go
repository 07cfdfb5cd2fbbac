package tcp_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/bufpool"
	"github.com/netkit-go/netkit/netkittest"
	"github.com/netkit-go/netkit/tcp"
	"github.com/netkit-go/netkit/tlsconfig"
)

// tlsListen starts a TLS echo listener on 127.0.0.1:0 with ss (and the
// escape hatch base, if any), stopped at cleanup.
func tlsListen(t testing.TB, ss *tlsconfig.ListenerSecureSocket, base *tls.Config, svc tcp.Service) *tcp.Listener {
	t.Helper()
	if svc == nil {
		svc = tcp.EchoService
	}
	return listen(t, svc, &tcp.ListenerConfig{SecureSocket: ss, TLSConfig: base})
}

// tlsDial connects to l with ss; the client is closed at cleanup.
func tlsDial(t testing.TB, l *tcp.Listener, ss *tlsconfig.ClientSecureSocket) (*tcp.Client, error) {
	t.Helper()
	host, port := hostPort(t, l.Addr())
	c, err := tcp.NewClient(testCtx(t), host, port, &tcp.ClientConfig{SecureSocket: ss, Timeout: 10 * time.Second})
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// echoOnce writes msg and checks that it comes back.
func echoOnce(t testing.TB, c *tcp.Client, msg string) {
	t.Helper()
	if err := c.WriteBytes(testCtx(t), []byte(msg)); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, c, len(msg)); string(got) != msg {
		t.Fatalf("echo = %q, want %q", got, msg)
	}
}

func TestTLSListenerPEMAndKeyStore(t *testing.T) {
	certs := netkittest.NewCertificates(t)
	for _, tc := range []struct {
		name string
		ss   *tlsconfig.ListenerSecureSocket
	}{
		{"CertKey", &tlsconfig.ListenerSecureSocket{CertKey: &tlsconfig.CertKey{CertFile: certs.ServerCert, KeyFile: certs.ServerKey}}},
		{"KeyStore", &tlsconfig.ListenerSecureSocket{Key: &tlsconfig.KeyStore{Path: certs.ServerKeyStore, Password: netkittest.StorePassword}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := tlsListen(t, tc.ss, nil, nil)
			c, err := tlsDial(t, l, &tlsconfig.ClientSecureSocket{Cert: certs.CACert})
			if err != nil {
				t.Fatal(err)
			}
			st := c.TLS()
			if st == nil || !st.HandshakeComplete || st.PeerCertificates[0].Subject.CommonName != "localhost" {
				t.Fatalf("client TLS state %+v", st)
			}
			echoOnce(t, c, "secure hello")
		})
	}
}

func TestTLSClientTrustPEMAndTrustStore(t *testing.T) {
	certs := netkittest.NewCertificates(t)
	l := tlsListen(t, &tlsconfig.ListenerSecureSocket{CertKey: &tlsconfig.CertKey{CertFile: certs.ServerCert, KeyFile: certs.ServerKey}}, nil, nil)
	for _, tc := range []struct {
		name string
		ss   *tlsconfig.ClientSecureSocket
		ok   bool
	}{
		{"Cert", &tlsconfig.ClientSecureSocket{Cert: certs.CACert}, true},
		{"TrustStore", &tlsconfig.ClientSecureSocket{TrustStore: &tlsconfig.TrustStore{Path: certs.TrustStore, Password: netkittest.StorePassword}}, true},
		{"UnrelatedCA", &tlsconfig.ClientSecureSocket{Cert: certs.OtherCACert}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tlsDial(t, l, tc.ss)
			if !tc.ok {
				var verr *tls.CertificateVerificationError
				if !errors.As(err, &verr) {
					t.Fatalf("err = %v, want a certificate verification error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			echoOnce(t, c, "trusted")
		})
	}
}

func TestTLSMutual(t *testing.T) {
	certs := netkittest.NewCertificates(t)
	peers := make(chan *tls.ConnectionState, 4)
	svc := tcp.ServiceFunc(func(c *tcp.Caller) (tcp.ConnectionService, error) {
		peers <- c.TLS()
		return tcp.Echo, nil
	})
	l := tlsListen(t, &tlsconfig.ListenerSecureSocket{
		CertKey:   &tlsconfig.CertKey{CertFile: certs.ServerCert, KeyFile: certs.ServerKey},
		MutualSSL: &tlsconfig.MutualSSL{Cert: certs.CACert},
	}, nil, svc)

	for _, tc := range []struct {
		name string
		ss   *tlsconfig.ClientSecureSocket
	}{
		{"CertKey", &tlsconfig.ClientSecureSocket{Cert: certs.CACert, CertKey: &tlsconfig.CertKey{CertFile: certs.ClientCert, KeyFile: certs.ClientKey}}},
		{"KeyStore", &tlsconfig.ClientSecureSocket{Cert: certs.CACert, Key: &tlsconfig.KeyStore{Path: certs.ClientKeyStore, Password: netkittest.StorePassword}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tlsDial(t, l, tc.ss)
			if err != nil {
				t.Fatal(err)
			}
			echoOnce(t, c, "mutual")
			st := <-peers
			if st == nil || len(st.PeerCertificates) == 0 {
				t.Fatalf("Caller.TLS() = %+v, want the client's certificate", st)
			}
			if cn := st.PeerCertificates[0].Subject.CommonName; cn != "netkit test client" {
				t.Fatalf("peer certificate CN %q", cn)
			}
			if len(st.VerifiedChains) == 0 {
				t.Fatal("client certificate not verified")
			}
		})
	}

	// Without a client certificate the connection fails: with TLS 1.2 the
	// handshake itself; with TLS 1.3 the client finishes its side first and
	// the server's alert arrives with the first read.
	t.Run("NoClientCertTLS12", func(t *testing.T) {
		_, err := tlsDial(t, l, &tlsconfig.ClientSecureSocket{Cert: certs.CACert,
			Protocol: &tlsconfig.ProtocolConfig{Name: tlsconfig.TLS, Versions: []string{"TLSv1.2"}}})
		if err == nil {
			t.Fatal("TLS 1.2 handshake without a client certificate succeeded")
		}
	})
	t.Run("NoClientCertTLS13", func(t *testing.T) {
		c, err := tlsDial(t, l, &tlsconfig.ClientSecureSocket{Cert: certs.CACert})
		if err != nil {
			t.Logf("refused in the handshake: %v", err)
			return // fine too
		}
		c.WriteBytes(testCtx(t), []byte("let me in"))
		b, err := c.ReadBytes(testCtx(t))
		if err == nil {
			t.Fatalf("served without a client certificate: %q", b)
		}
		t.Logf("refused at the first read: %v", err)
	})
	select {
	case st := <-peers:
		t.Fatalf("OnConnect ran for a connection without a client certificate (%+v)", st)
	default:
	}
}

// Ballerina's test: a TLSv1.1-only client against a TLSv1.2+ listener fails
// in NewClient.
func TestTLS11ClientRefused(t *testing.T) {
	certs := netkittest.NewCertificates(t)
	l := tlsListen(t, &tlsconfig.ListenerSecureSocket{
		CertKey:  &tlsconfig.CertKey{CertFile: certs.ServerCert, KeyFile: certs.ServerKey},
		Protocol: &tlsconfig.ProtocolConfig{Name: tlsconfig.TLS, Versions: []string{"TLSv1.2", "TLSv1.3"}},
	}, nil, nil)
	_, err := tlsDial(t, l, &tlsconfig.ClientSecureSocket{Cert: certs.CACert,
		Protocol: &tlsconfig.ProtocolConfig{Name: tlsconfig.TLS, Versions: []string{"TLSv1.1"}}})
	if err == nil {
		t.Fatal("TLSv1.1 client accepted by a TLSv1.2+ listener")
	}
	if !strings.Contains(err.Error(), "protocol version") {
		t.Fatalf("err = %v, want a protocol version failure", err)
	}
	t.Logf("TLSv1.1 client: %v", err)
	// The same listener serves a TLSv1.2 client.
	c, err := tlsDial(t, l, &tlsconfig.ClientSecureSocket{Cert: certs.CACert,
		Protocol: &tlsconfig.ProtocolConfig{Name: tlsconfig.TLS, Versions: []string{"TLSv1.2"}}})
	if err != nil {
		t.Fatal(err)
	}
	if v := c.TLS().Version; v != tls.VersionTLS12 {
		t.Fatalf("version %x", v)
	}
	echoOnce(t, c, "v1.2")
}

func TestTLSCipherMismatch(t *testing.T) {
	certs := netkittest.NewCertificates(t) // ECDSA keys: ECDHE_ECDSA suites
	const serverSuite = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
	v12 := &tlsconfig.ProtocolConfig{Name: tlsconfig.TLS, Versions: []string{"TLSv1.2"}}
	l := tlsListen(t, &tlsconfig.ListenerSecureSocket{
		CertKey:  &tlsconfig.CertKey{CertFile: certs.ServerCert, KeyFile: certs.ServerKey},
		Protocol: v12,
		Ciphers:  []string{serverSuite},
	}, nil, nil)
	_, err := tlsDial(t, l, &tlsconfig.ClientSecureSocket{Cert: certs.CACert, Protocol: v12,
		Ciphers: []string{"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"}})
	if err == nil {
		t.Fatal("handshake succeeded with disjoint cipher suites")
	}
	t.Logf("cipher mismatch: %v", err)
	// The control: the server's suite works.
	c, err := tlsDial(t, l, &tlsconfig.ClientSecureSocket{Cert: certs.CACert, Protocol: v12, Ciphers: []string{serverSuite}})
	if err != nil {
		t.Fatal(err)
	}
	if got := tls.CipherSuiteName(c.TLS().CipherSuite); got != serverSuite {
		t.Fatalf("negotiated %s", got)
	}
	echoOnce(t, c, "cipher")
}

// Ballerina's SSLv3 test: the SSL protocol is refused (Go has no SSLv3).
func TestTLSSSLv3Refused(t *testing.T) {
	certs := netkittest.NewCertificates(t)
	ssl := &tlsconfig.ProtocolConfig{Name: tlsconfig.SSL, Versions: []string{"SSLv3"}}
	_, err := tcp.NewListener(0, &tcp.ListenerConfig{SecureSocket: &tlsconfig.ListenerSecureSocket{
		CertKey: &tlsconfig.CertKey{CertFile: certs.ServerCert, KeyFile: certs.ServerKey}, Protocol: ssl}})
	if err == nil {
		t.Fatal("NewListener accepted SSLv3")
	}
	l := tlsListen(t, &tlsconfig.ListenerSecureSocket{CertKey: &tlsconfig.CertKey{CertFile: certs.ServerCert, KeyFile: certs.ServerKey}}, nil, nil)
	if _, err := tlsDial(t, l, &tlsconfig.ClientSecureSocket{Cert: certs.CACert, Protocol: ssl}); err == nil {
		t.Fatal("NewClient accepted SSLv3")
	} else {
		t.Logf("SSLv3: %v", err)
	}
}

// Ballerina's enable=false: a client with Disable talks plain TCP.
func TestTLSClientDisabledTalksPlain(t *testing.T) {
	certs := netkittest.NewCertificates(t)
	l := listen(t, tcp.EchoService, nil)
	c, err := tlsDial(t, l, &tlsconfig.ClientSecureSocket{Disable: true, Cert: certs.CACert})
	if err != nil {
		t.Fatal(err)
	}
	if c.TLS() != nil {
		t.Fatal("Disable: true client has a TLS state")
	}
	echoOnce(t, c, "plain")
}

// The validation messages of Ballerina's SecureSocket reach the user through
// NewListener and NewClient.
func TestTLSValidationMessages(t *testing.T) {
	certs := netkittest.NewCertificates(t)
	garbage := t.TempDir() + "/garbage.p12"
	if err := os.WriteFile(garbage, []byte("not a key store"), 0o600); err != nil {
		t.Fatal(err)
	}
	pw := netkittest.StorePassword
	listenerCases := []struct {
		ss   *tlsconfig.ListenerSecureSocket
		want string
	}{
		{&tlsconfig.ListenerSecureSocket{Key: &tlsconfig.KeyStore{Password: pw}}, "KeyStore file location must be provided for secure connection"},
		{&tlsconfig.ListenerSecureSocket{Key: &tlsconfig.KeyStore{Path: certs.ServerKeyStore}}, "KeyStore password must be provided for secure connection"},
		{&tlsconfig.ListenerSecureSocket{CertKey: &tlsconfig.CertKey{KeyFile: certs.ServerKey}}, "Certificate file location must be provided for secure connection"},
		{&tlsconfig.ListenerSecureSocket{CertKey: &tlsconfig.CertKey{CertFile: certs.ServerCert}}, "Private key file location must be provided for secure connection"},
		{&tlsconfig.ListenerSecureSocket{CertKey: &tlsconfig.CertKey{CertFile: certs.ServerCert, KeyFile: certs.ServerKey},
			MutualSSL: &tlsconfig.MutualSSL{TrustStore: &tlsconfig.TrustStore{Password: pw}}}, "TrustStore file location must be provided for secure connection"},
		{&tlsconfig.ListenerSecureSocket{CertKey: &tlsconfig.CertKey{CertFile: certs.ServerCert, KeyFile: certs.ServerKey},
			MutualSSL: &tlsconfig.MutualSSL{TrustStore: &tlsconfig.TrustStore{Path: certs.TrustStore}}}, "TrustStore password must be provided for secure connection"},
		{&tlsconfig.ListenerSecureSocket{Key: &tlsconfig.KeyStore{Path: garbage, Password: pw}}, "Failed to initialize the SSL context"},
	}
	for _, tc := range listenerCases {
		_, err := tcp.NewListener(0, &tcp.ListenerConfig{SecureSocket: tc.ss})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewListener: err = %v, want %q", err, tc.want)
		}
	}

	l := listen(t, tcp.EchoService, nil) // something to connect to
	clientCases := []struct {
		ss   *tlsconfig.ClientSecureSocket
		want string
	}{
		{&tlsconfig.ClientSecureSocket{TrustStore: &tlsconfig.TrustStore{Password: pw}}, "TrustStore file location must be provided for secure connection"},
		{&tlsconfig.ClientSecureSocket{TrustStore: &tlsconfig.TrustStore{Path: certs.TrustStore}}, "TrustStore password must be provided for secure connection"},
		{&tlsconfig.ClientSecureSocket{Cert: certs.CACert, Key: &tlsconfig.KeyStore{Password: pw}}, "KeyStore file location must be provided for secure connection"},
		{&tlsconfig.ClientSecureSocket{Cert: certs.CACert, Key: &tlsconfig.KeyStore{Path: certs.ClientKeyStore}}, "KeyStore password must be provided for secure connection"},
		{&tlsconfig.ClientSecureSocket{Cert: certs.CACert, CertKey: &tlsconfig.CertKey{KeyFile: certs.ClientKey}}, "Certificate file location must be provided for secure connection"},
		{&tlsconfig.ClientSecureSocket{Cert: certs.CACert, CertKey: &tlsconfig.CertKey{CertFile: certs.ClientCert}}, "Private key file location must be provided for secure connection"},
		{&tlsconfig.ClientSecureSocket{TrustStore: &tlsconfig.TrustStore{Path: garbage, Password: pw}}, "Failed to initialize the SSL context"},
	}
	for _, tc := range clientCases {
		c, err := tlsDial(t, l, tc.ss)
		if err == nil {
			c.Close()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewClient: err = %v, want %q", err, tc.want)
		}
	}
}

// Ballerina: a plain client talking to a TLS listener can write, and its
// next read fails.
func TestPlainClientToTLSListener(t *testing.T) {
	certs := netkittest.NewCertificates(t)
	var served atomic.Bool
	l := tlsListen(t, &tlsconfig.ListenerSecureSocket{CertKey: &tlsconfig.CertKey{CertFile: certs.ServerCert, KeyFile: certs.ServerKey}}, nil,
		tcp.ServiceFunc(func(*tcp.Caller) (tcp.ConnectionService, error) {
			served.Store(true)
			return tcp.Echo, nil
		}))
	c := dial(t, l, nil)
	if err := c.WriteBytes(testCtx(t), []byte("hello, plainly\r\n\r\n")); err != nil {
		t.Fatalf("write: %v", err)
	}
	b, err := c.ReadBytes(testCtx(t))
	for err == nil && len(b) > 0 && !served.Load() { // tolerate an alert record before the close
		b, err = c.ReadBytes(testCtx(t))
	}
	if err == nil {
		t.Fatalf("read succeeded: %q", b)
	}
	var to interface{ Timeout() bool }
	if errors.As(err, &to) && to.Timeout() {
		t.Fatalf("read timed out instead of failing: %v", err)
	}
	if served.Load() {
		t.Fatal("OnConnect ran for a plain connection")
	}
	t.Logf("plain client's read: %v", err)
}

// The escape hatch: a base tls.Config whose GetCertificate supplies the
// certificate (rotation), with no key in SecureSocket.
func TestTLSConfigGetCertificate(t *testing.T) {
	certs := netkittest.NewCertificates(t)
	var calls atomic.Int32
	base := &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		calls.Add(1)
		return &certs.Server, nil
	}}
	l := tlsListen(t, nil, base, nil)
	c, err := tlsDial(t, l, &tlsconfig.ClientSecureSocket{Cert: certs.CACert, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	echoOnce(t, c, "rotated")
	if calls.Load() == 0 {
		t.Fatal("GetCertificate was not consulted")
	}
	if base.Certificates != nil {
		t.Fatal("the caller's tls.Config was modified")
	}

	// SecureSocket fields apply on top of the base: mutual TLS required.
	l2 := tlsListen(t, &tlsconfig.ListenerSecureSocket{MutualSSL: &tlsconfig.MutualSSL{Cert: certs.CACert}}, base, nil)
	if c, err := tlsDial(t, l2, &tlsconfig.ClientSecureSocket{Cert: certs.CACert,
		CertKey: &tlsconfig.CertKey{CertFile: certs.ClientCert, KeyFile: certs.ClientKey}}); err != nil {
		t.Fatal(err)
	} else {
		echoOnce(t, c, "base+mutual")
	}

	// And a client with only a TLSConfig (no SecureSocket) uses TLS.
	host, port := hostPort(t, l.Addr())
	c3, err := tcp.NewClient(testCtx(t), host, port, &tcp.ClientConfig{TLSConfig: &tls.Config{RootCAs: certs.CAPool}})
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if c3.TLS() == nil {
		t.Fatal("TLSConfig-only client is plain")
	}
	echoOnce(t, c3, "hatch")
}

// A peer that connects and sends nothing is dropped after HandshakeTimeout,
// and the handshake never blocks the accept loop: other clients are served
// meanwhile.
func TestTLSHandshakeTimeout(t *testing.T) {
	certs := netkittest.NewCertificates(t)
	ck := &tlsconfig.CertKey{CertFile: certs.ServerCert, KeyFile: certs.ServerKey}
	l := tlsListen(t, &tlsconfig.ListenerSecureSocket{CertKey: ck, HandshakeTimeout: 100 * time.Millisecond}, nil, nil)
	host, port := hostPort(t, l.Addr())

	silent, err := net.Dial("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	start := time.Now()
	closed := make(chan error, 1)
	go func() {
		silent.SetReadDeadline(time.Now().Add(10 * time.Second))
		var b [64]byte
		_, err := silent.Read(b[:])
		closed <- err
	}()

	// Served meanwhile.
	c, err := tlsDial(t, l, &tlsconfig.ClientSecureSocket{Cert: certs.CACert})
	if err != nil {
		t.Fatal(err)
	}
	echoOnce(t, c, "not blocked")

	err = <-closed
	elapsed := time.Since(start)
	if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isConnReset(err) {
		t.Fatalf("silent peer: read err = %v, want the connection closed", err)
	}
	if elapsed < 90*time.Millisecond {
		t.Fatalf("silent peer closed after %v, before the handshake timeout", elapsed)
	}

	// With a long handshake timeout the silent peers stay pending while
	// clients are served: the handshake is not on the accept loop.
	l2 := tlsListen(t, &tlsconfig.ListenerSecureSocket{CertKey: ck, HandshakeTimeout: time.Minute}, nil, nil)
	host2, port2 := hostPort(t, l2.Addr())
	var silents []net.Conn
	for range 3 {
		s, err := net.Dial("tcp", net.JoinHostPort(host2, strconv.Itoa(port2)))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		silents = append(silents, s)
	}
	for i := range 3 {
		c, err := tlsDial(t, l2, &tlsconfig.ClientSecureSocket{Cert: certs.CACert, HandshakeTimeout: 5 * time.Second})
		if err != nil {
			t.Fatalf("client %d behind silent peers: %v", i, err)
		}
		echoOnce(t, c, "pending peers do not block")
	}
	for _, s := range silents {
		s.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		var b [1]byte
		if _, err := s.Read(b[:]); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("silent peer with a 1 min handshake timeout: %v", err)
		}
	}
}

func isConnReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

// TestTLSIdleConnectionHoldsNoBuffer: between messages a TLS connection
// waits with a one-byte read into crypto/tls (which decrypts the record
// into its own buffer), not with a pooled read buffer: it held one 4 KiB
// buffer for as long as it stayed idle before. The count of buffers out of
// internal/bufpool exists only under netkit_debug, which CI's race suite
// uses.
func TestTLSIdleConnectionHoldsNoBuffer(t *testing.T) {
	if !bufpool.Debug {
		t.Skip("bufpool counts its buffers only under the netkit_debug build tag")
	}
	const n = 8
	certs := netkittest.NewCertificates(t)
	l := tlsListen(t, &tlsconfig.ListenerSecureSocket{CertKey: &tlsconfig.CertKey{CertFile: certs.ServerCert, KeyFile: certs.ServerKey}}, nil, nil)
	base := bufpool.Outstanding()
	msg := bytes.Repeat([]byte("tls"), 3000) // more than one read, less than a record
	got := make([]byte, len(msg))
	for range n {
		// crypto/tls alone on this side, so every pooled buffer counted is the server's.
		c, err := tls.Dial("tcp", l.Addr().String(), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		for range 3 {
			if _, err := c.Write(msg); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("echo: %v", err)
			}
		}
	}
	// The last echo's buffer goes back once its callback returned.
	if !waitFor(5*time.Second, func() bool { return bufpool.Outstanding() == base }) {
		t.Fatalf("%d pooled buffers held by %d idle TLS connections, want 0", bufpool.Outstanding()-base, n)
	}
}
