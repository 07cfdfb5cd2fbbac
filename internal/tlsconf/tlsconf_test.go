package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netkit-go/netkit/netkittest"
)

func TestPEMListenerPEMClient(t *testing.T) {
	c := netkittest.NewCertificates(t)
	srv := serverCfg(t, pemListener(c), nil)
	for _, name := range []string{"localhost", "127.0.0.1"} {
		t.Run(name, func(t *testing.T) {
			cli := clientCfg(t, &ClientSecureSocket{Cert: c.CACert}, nil, name)
			_, st := mustConnect(t, srv, cli)
			if len(st.PeerCertificates) == 0 || !st.PeerCertificates[0].Equal(c.Server.Leaf) {
				t.Fatal("client did not see the server certificate")
			}
			if len(st.VerifiedChains) == 0 {
				t.Fatal("chain not verified")
			}
		})
	}
}

func TestIPv6Loopback(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	ln.Close()
	c := netkittest.NewCertificates(t)
	srv := serverCfg(t, pemListener(c), nil)
	for _, name := range []string{"[::1]", "::1", "[::1%lo]"} {
		cli := clientCfg(t, &ClientSecureSocket{Cert: c.CACert}, nil, name)
		if cli.ServerName != "::1" {
			t.Fatalf("ServerName for %q = %q, want ::1", name, cli.ServerName)
		}
		s, cl := connectOn(t, "[::1]:0", srv, cli)
		if s.err != nil || cl.err != nil {
			t.Fatalf("%s: server: %v; client: %v", name, s.err, cl.err)
		}
	}
}

func TestPKCS12KeyStoreAndTrustStore(t *testing.T) {
	c := netkittest.NewCertificates(t)
	srv := serverCfg(t, &ListenerSecureSocket{Key: &KeyStore{Path: c.ServerKeyStore, Password: netkittest.StorePassword}}, nil)
	if n := len(srv.Certificates[0].Certificate); n != 2 {
		t.Fatalf("key store chain has %d certificates, want leaf and CA", n)
	}
	cli := clientCfg(t, &ClientSecureSocket{TrustStore: &TrustStore{Path: c.TrustStore, Password: netkittest.StorePassword}}, nil, "localhost")
	mustConnect(t, srv, cli)

	// Without the trust store the client uses the system roots and fails.
	_, cerr := mustFail(t, srv, clientCfg(t, &ClientSecureSocket{}, nil, "localhost"))
	var uerr x509.UnknownAuthorityError
	if !errors.As(cerr, &uerr) {
		t.Fatalf("client error %v, want x509.UnknownAuthorityError", cerr)
	}
}

// A key store used as a trust store trusts its certificate, as in Java.
func TestKeyStoreAsTrustStore(t *testing.T) {
	c := netkittest.NewCertificates(t)
	srv := serverCfg(t, pemListener(c), nil)
	cli := clientCfg(t, &ClientSecureSocket{TrustStore: &TrustStore{Path: c.ServerKeyStore, Password: netkittest.StorePassword}}, nil, "localhost")
	mustConnect(t, srv, cli)
}

func TestMutualTLS(t *testing.T) {
	c := netkittest.NewCertificates(t)
	pemClient := &ClientSecureSocket{Cert: c.CACert, CertKey: &CertKey{CertFile: c.ClientCert, KeyFile: c.ClientKey}}
	p12Client := &ClientSecureSocket{Cert: c.CACert, Key: &KeyStore{Path: c.ClientKeyStore, Password: netkittest.StorePassword}}
	noCert := &ClientSecureSocket{Cert: c.CACert}

	for _, tc := range []struct {
		name   string
		mutual *MutualSSL
		client *ClientSecureSocket
		ok     bool
		base   *tls.Config
	}{
		{"pem ca, pem client", &MutualSSL{Cert: c.CACert}, pemClient, true, nil},
		{"truststore, pkcs12 client", &MutualSSL{TrustStore: &TrustStore{Path: c.TrustStore, Password: netkittest.StorePassword}}, p12Client, true, nil},
		{"require, no client cert", &MutualSSL{Cert: c.CACert}, noCert, false, nil},
		{"REQUIRE spelled out, no client cert", &MutualSSL{Verify: Require, Cert: c.CACert}, noCert, false, nil},
		{"optional, no client cert", &MutualSSL{Verify: Optional, Cert: c.CACert}, noCert, true, nil},
		{"optional, client cert", &MutualSSL{Verify: Optional, Cert: c.CACert}, pemClient, true, nil},
		// The client sends its certificate although the server asks for
		// the other CA's (Go's client would send none): the server refuses it.
		{"unrelated CA", &MutualSSL{Cert: c.OtherCACert}, pemClient, false, &tls.Config{
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c.Client, nil },
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := pemListener(c)
			s.MutualSSL = tc.mutual
			srv := serverCfg(t, s, nil)
			cli := clientCfg(t, tc.client, tc.base, "localhost")
			if !tc.ok {
				serr, _ := mustFail(t, srv, cli)
				if !strings.Contains(serr.Error(), "certificate") {
					t.Errorf("server error %q does not mention the certificate", serr)
				}
				return
			}
			st, _ := mustConnect(t, srv, cli)
			wantCert := tc.client.CertKey != nil || tc.client.Key != nil
			if got := len(st.PeerCertificates) > 0; got != wantCert {
				t.Fatalf("server saw a client certificate: %v, want %v", got, wantCert)
			}
			if wantCert && !st.PeerCertificates[0].Equal(c.Client.Leaf) {
				t.Fatal("server saw the wrong client certificate")
			}
		})
	}
}

func TestProtocolVersions(t *testing.T) {
	c := netkittest.NewCertificates(t)
	modern := pemListener(c)
	modern.Protocol = &ProtocolConfig{Name: TLS, Versions: []string{"TLSv1.2", "TLSv1.3"}}
	srv := serverCfg(t, modern, nil)
	if srv.MinVersion != tls.VersionTLS12 || srv.MaxVersion != tls.VersionTLS13 {
		t.Fatalf("server versions %x..%x", srv.MinVersion, srv.MaxVersion)
	}

	old := &ClientSecureSocket{Cert: c.CACert, Protocol: &ProtocolConfig{Name: TLS, Versions: []string{"TLSv1.1"}}}
	cli := clientCfg(t, old, nil, "localhost")
	if cli.MinVersion != tls.VersionTLS11 || cli.MaxVersion != tls.VersionTLS11 {
		t.Fatalf("client versions %x..%x", cli.MinVersion, cli.MaxVersion)
	}
	serr, cerr := mustFail(t, srv, cli)
	if !strings.Contains(serr.Error(), "version") || !strings.Contains(cerr.Error(), "version") {
		t.Errorf("errors do not name the version: server %q, client %q", serr, cerr)
	}

	// The versions are honoured in both directions.
	only12 := pemListener(c)
	only12.Protocol = &ProtocolConfig{Versions: []string{"1.2"}}
	_, st := mustConnect(t, serverCfg(t, only12, nil), clientCfg(t, &ClientSecureSocket{Cert: c.CACert}, nil, "localhost"))
	if st.Version != tls.VersionTLS12 {
		t.Fatalf("negotiated %s, want TLS 1.2", tls.VersionName(st.Version))
	}
	_, st = mustConnect(t, srv, clientCfg(t, &ClientSecureSocket{Cert: c.CACert}, nil, "localhost"))
	if st.Version != tls.VersionTLS13 {
		t.Fatalf("negotiated %s, want TLS 1.3", tls.VersionName(st.Version))
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]uint16{
		"TLSv1": tls.VersionTLS10, "TLSv1.0": tls.VersionTLS10, "1.0": tls.VersionTLS10,
		"TLSv1.1": tls.VersionTLS11, "tlsv1.2": tls.VersionTLS12, " TLSv1.3 ": tls.VersionTLS13,
		"1.2": tls.VersionTLS12, "TLS 1.3": tls.VersionTLS13, "TLS1_2": tls.VersionTLS12,
	} {
		got, err := parseVersion(in)
		if err != nil || got != want {
			t.Errorf("parseVersion(%q) = %x, %v; want %x", in, got, err, want)
		}
	}
	for _, in := range []string{"", "TLSv1.4", "2", "SSLv3", "DTLSv1.2"} {
		if _, err := parseVersion(in); err == nil {
			t.Errorf("parseVersion(%q) succeeded", in)
		}
	}
}

func TestVersionRange(t *testing.T) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS13}
	if err := applyProtocol(cfg, &ProtocolConfig{Versions: []string{"TLSv1.3", "TLSv1.1", "TLSv1.2"}}); err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS11 || cfg.MaxVersion != tls.VersionTLS13 {
		t.Fatalf("versions %x..%x, want TLS 1.1..1.3", cfg.MinVersion, cfg.MaxVersion)
	}
	// No versions: base's are kept.
	if err := applyProtocol(cfg, &ProtocolConfig{Name: TLS}); err != nil || cfg.MinVersion != tls.VersionTLS11 {
		t.Fatalf("versions changed without Versions: %x, %v", cfg.MinVersion, err)
	}
}

func TestSSLRefused(t *testing.T) {
	c := netkittest.NewCertificates(t)
	for _, p := range []*ProtocolConfig{
		{Name: SSL},
		{Name: SSL, Versions: []string{"SSLv3"}},
		{Name: TLS, Versions: []string{"TLSv1.2", "SSLv3"}},
		{Name: "DTLS"},
	} {
		s := pemListener(c)
		s.Protocol = p
		_, err := ServerConfig(s, nil)
		ce := configError(t, err)
		if p.Name != "DTLS" && !strings.Contains(ce.Msg, "SSL") {
			t.Errorf("server %+v: message %q", p, ce.Msg)
		}
		_, err = ClientConfig(&ClientSecureSocket{Protocol: p}, nil, "localhost")
		configError(t, err)
	}
}

func TestCiphers(t *testing.T) {
	c := netkittest.NewCertificates(t)
	const (
		aes128 = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
		aes256 = "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
	)
	tls12 := &ProtocolConfig{Versions: []string{"TLSv1.2"}}
	s := pemListener(c)
	s.Protocol, s.Ciphers = tls12, []string{aes128}
	srv := serverCfg(t, s, nil)

	// Mismatch: no common suite.
	cli := clientCfg(t, &ClientSecureSocket{Cert: c.CACert, Protocol: tls12, Ciphers: []string{aes256}}, nil, "localhost")
	mustFail(t, srv, cli)

	// Match, also through Java's SSL_ alias and lower case.
	cli = clientCfg(t, &ClientSecureSocket{Cert: c.CACert, Protocol: tls12, Ciphers: []string{aes256, "ssl_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"}}, nil, "localhost")
	_, st := mustConnect(t, srv, cli)
	if st.CipherSuite != tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 {
		t.Fatalf("negotiated %s", tls.CipherSuiteName(st.CipherSuite))
	}

	// Insecure suites are accepted by name, TLS 1.3 names too (Go ignores them).
	ids, err := parseCiphers([]string{"TLS_RSA_WITH_RC4_128_SHA", "TLS_AES_128_GCM_SHA256"})
	if err != nil || len(ids) != 2 || ids[0] != tls.TLS_RSA_WITH_RC4_128_SHA {
		t.Fatalf("parseCiphers: %v, %v", ids, err)
	}

	// An unknown name is an error naming it.
	const dhe = "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256" // in Ballerina's defaults, not in Go
	s.Ciphers = []string{aes128, dhe}
	_, err = ServerConfig(s, nil)
	if ce := configError(t, err); !strings.Contains(ce.Msg, dhe) {
		t.Errorf("message %q does not name %s", ce.Msg, dhe)
	}
	_, err = ClientConfig(&ClientSecureSocket{Ciphers: []string{"bogus"}}, nil, "localhost")
	if ce := configError(t, err); !strings.Contains(ce.Msg, "bogus") {
		t.Errorf("message %q does not name bogus", ce.Msg)
	}
}

func TestBaseConfigSurvives(t *testing.T) {
	c := netkittest.NewCertificates(t)
	var calls atomic.Int32
	base := &tls.Config{
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			calls.Add(1)
			return &c.Server, nil
		},
		NextProtos: []string{"http/1.1"},
	}
	// No key in the SecureSocket: the rotation callback provides it.
	srv := serverCfg(t, &ListenerSecureSocket{Ciphers: []string{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"}}, base)
	if srv == base || srv.GetCertificate == nil || len(srv.NextProtos) != 1 || len(srv.CipherSuites) != 1 {
		t.Fatalf("base not cloned with its fields: %+v", srv)
	}
	if base.CipherSuites != nil {
		t.Fatal("base was modified")
	}
	cbase := &tls.Config{NextProtos: []string{"http/1.1"}}
	_, st := mustConnect(t, srv, clientCfg(t, &ClientSecureSocket{Cert: c.CACert}, cbase, "localhost"))
	if calls.Load() != 1 || st.NegotiatedProtocol != "http/1.1" {
		t.Fatalf("GetCertificate calls %d, ALPN %q", calls.Load(), st.NegotiatedProtocol)
	}

	// With a key too, GetCertificate still comes first when SNI is sent.
	srv = serverCfg(t, pemListener(c), base)
	mustConnect(t, srv, clientCfg(t, &ClientSecureSocket{Cert: c.CACert}, nil, "localhost"))
	if calls.Load() != 2 {
		t.Fatalf("GetCertificate calls %d, want 2", calls.Load())
	}

	// A nil SecureSocket gives a clone of base.
	got, err := ServerConfig(nil, base)
	if err != nil || got == base || got.GetCertificate == nil {
		t.Fatalf("ServerConfig(nil, base) = %v, %v", got, err)
	}
	got, err = ClientConfig(nil, &tls.Config{RootCAs: c.CAPool}, "[::1]")
	if err != nil || got.RootCAs != c.CAPool || got.ServerName != "::1" {
		t.Fatalf("ClientConfig(nil, base) = %+v, %v", got, err)
	}
	if _, err := ServerConfig(nil, nil); err == nil {
		t.Fatal("ServerConfig(nil, nil) succeeded")
	}
	if _, err := ClientConfig(nil, nil, "localhost"); err == nil {
		t.Fatal("ClientConfig(nil, nil) succeeded")
	}
	// Without any certificate source the listener config is refused.
	if _, err := ServerConfig(&ListenerSecureSocket{}, &tls.Config{}); err == nil {
		t.Fatal("ServerConfig without certificate succeeded")
	}
}

func TestServerName(t *testing.T) {
	for in, want := range map[string]string{
		"localhost": "localhost", "example.com": "example.com", "127.0.0.1": "127.0.0.1",
		"[::1]": "::1", "::1": "::1", "fe80::1%eth0": "fe80::1", "[fe80::1%25eth0]": "fe80::1",
		"[fe80::1%eth0]": "fe80::1", "::ffff:127.0.0.1": "127.0.0.1",
	} {
		if got := normalizeServerName(in); got != want {
			t.Errorf("normalizeServerName(%q) = %q, want %q", in, got, want)
		}
	}
	// Precedence: SecureSocket, then base, then the dialed host.
	s := &ClientSecureSocket{ServerName: "a.example", DisableSessionCache: true}
	if got := clientCfg(t, s, &tls.Config{ServerName: "b.example"}, "c.example").ServerName; got != "a.example" {
		t.Errorf("ServerName = %q, want a.example", got)
	}
	s.ServerName = ""
	if got := clientCfg(t, s, &tls.Config{ServerName: "b.example"}, "c.example").ServerName; got != "b.example" {
		t.Errorf("ServerName = %q, want b.example", got)
	}
	if got := clientCfg(t, s, nil, "c.example").ServerName; got != "c.example" {
		t.Errorf("ServerName = %q, want c.example", got)
	}
}

func TestSkipHostNameVerification(t *testing.T) {
	c := netkittest.NewCertificates(t)
	srv := serverCfg(t, pemListener(c), nil)

	// Control: the wrong host name is refused by default.
	_, cerr := mustFail(t, srv, clientCfg(t, &ClientSecureSocket{Cert: c.CACert, ServerName: "example.com"}, nil, "localhost"))
	var herr x509.HostnameError
	if !errors.As(cerr, &herr) {
		t.Fatalf("client error %v, want x509.HostnameError", cerr)
	}

	// Skipping the host name accepts it, the chain still verified.
	var nextCalled atomic.Bool
	base := &tls.Config{VerifyConnection: func(tls.ConnectionState) error { nextCalled.Store(true); return nil }}
	skip := &ClientSecureSocket{Cert: c.CACert, ServerName: "example.com", SkipHostNameVerification: true}
	mustConnect(t, srv, clientCfg(t, skip, base, "localhost"))
	if !nextCalled.Load() {
		t.Fatal("base VerifyConnection not called")
	}

	// An untrusted chain is still refused.
	for _, s := range []*ClientSecureSocket{
		{Cert: c.OtherCACert, ServerName: "example.com", SkipHostNameVerification: true},
		{Cert: c.OtherCACert, SkipHostNameVerification: true},
	} {
		_, cerr = mustFail(t, srv, clientCfg(t, s, nil, "localhost"))
		var verr *tls.CertificateVerificationError
		var uerr x509.UnknownAuthorityError
		if !errors.As(cerr, &verr) || !errors.As(cerr, &uerr) {
			t.Fatalf("client error %v, want a CertificateVerificationError for an unknown authority", cerr)
		}
	}

	// The chain check uses base.Time as its clock: 60 days on, the
	// certificates have expired.
	late := &tls.Config{Time: func() time.Time { return time.Now().Add(60 * 24 * time.Hour) }}
	_, cerr = mustFail(t, srv, clientCfg(t, &ClientSecureSocket{Cert: c.CACert, SkipHostNameVerification: true}, late, "localhost"))
	var ierr x509.CertificateInvalidError
	if !errors.As(cerr, &ierr) || ierr.Reason != x509.Expired {
		t.Fatalf("client error %v, want an expired certificate", cerr)
	}

	// The chain check uses the key usage of a server: the client
	// certificate (client-auth only) presented as a server's is refused.
	wrongUsage := &ListenerSecureSocket{CertKey: &CertKey{CertFile: c.ClientCert, KeyFile: c.ClientKey}}
	mustFail(t, serverCfg(t, wrongUsage, nil), clientCfg(t, &ClientSecureSocket{Cert: c.CACert, SkipHostNameVerification: true}, nil, "localhost"))
}
