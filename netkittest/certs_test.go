package netkittest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/netkit-go/netkit/internal/leakcheck"
	"software.sslmate.com/src/go-pkcs12"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" || len(rest) != 0 {
		t.Fatalf("%s: want exactly one CERTIFICATE block", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCertificatesVerify(t *testing.T) {
	c := NewCertificates(t)
	ca := readCert(t, c.CACert)
	if !ca.IsCA {
		t.Fatal("CA certificate is not a CA")
	}
	server := readCert(t, c.ServerCert)
	client := readCert(t, c.ClientCert)

	for _, host := range []string{"localhost", "127.0.0.1", "::1"} {
		_, err := server.Verify(x509.VerifyOptions{Roots: c.CAPool, DNSName: host})
		if err != nil {
			t.Errorf("server certificate for %q: %v", host, err)
		}
	}
	if _, err := server.Verify(x509.VerifyOptions{Roots: c.CAPool, DNSName: "example.com"}); err == nil {
		t.Error("server certificate verified for example.com")
	}
	if _, err := server.Verify(x509.VerifyOptions{Roots: c.OtherCAPool, DNSName: "localhost"}); err == nil {
		t.Error("server certificate verified against the unrelated CA")
	}
	other := readCert(t, c.OtherCACert)
	if other.Equal(ca) || !other.IsCA {
		t.Error("OtherCACert is not a distinct CA")
	}
	_, err := client.Verify(x509.VerifyOptions{Roots: c.CAPool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		t.Errorf("client certificate: %v", err)
	}
	if !c.Server.Leaf.Equal(server) || !c.Client.Leaf.Equal(client) {
		t.Error("Server/Client tls.Certificate do not match the PEM files")
	}
	if _, err := tls.LoadX509KeyPair(c.ServerCert, c.ServerKey); err != nil {
		t.Errorf("server key pair: %v", err)
	}
	if _, err := tls.LoadX509KeyPair(c.ClientCert, c.ClientKey); err != nil {
		t.Errorf("client key pair: %v", err)
	}
}

func TestCertificatesPKCS12(t *testing.T) {
	c := NewCertificates(t)
	ca := readCert(t, c.CACert)
	for _, ks := range []struct{ path, pem string }{{c.ServerKeyStore, c.ServerCert}, {c.ClientKeyStore, c.ClientCert}} {
		data, err := os.ReadFile(ks.path)
		if err != nil {
			t.Fatal(err)
		}
		key, leaf, chain, err := pkcs12.DecodeChain(data, StorePassword)
		if err != nil {
			t.Fatalf("%s: %v", ks.path, err)
		}
		if key == nil || !leaf.Equal(readCert(t, ks.pem)) || len(chain) != 1 || !chain[0].Equal(ca) {
			t.Errorf("%s: unexpected contents", ks.path)
		}
		if _, _, _, err := pkcs12.DecodeChain(data, "wrong"); err == nil {
			t.Errorf("%s: decoded with a wrong password", ks.path)
		}
	}
	data, err := os.ReadFile(c.TrustStore)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := pkcs12.DecodeTrustStore(data, StorePassword)
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 1 || !certs[0].Equal(ca) {
		t.Errorf("trust store holds %d certificates, want the CA", len(certs))
	}
}

func TestCertificatesPerTestFiles(t *testing.T) {
	a, b := NewCertificates(t), NewCertificates(t)
	if a.CACert == b.CACert {
		t.Error("two calls share files")
	}
	if !a.Server.Leaf.Equal(b.Server.Leaf) {
		t.Error("the key material is regenerated per call")
	}
}

// TestTLSPair does a mutual TLS handshake over loopback with the pair.
func TestTLSPair(t *testing.T) {
	server, client := TLSPair(t)
	server.ClientAuth = tls.RequireAndVerifyClientCert
	ln, err := tls.Listen("tcp", "127.0.0.1:0", server)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	errc := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		tc := c.(*tls.Conn)
		if err := tc.Handshake(); err != nil {
			errc <- err
			return
		}
		if n := len(tc.ConnectionState().PeerCertificates); n == 0 {
			errc <- errors.New("server saw no client certificate")
			return
		}
		_, err = c.Write([]byte("ok"))
		errc <- err
	}()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", ln.Addr().String(), client)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "ok" {
		t.Fatalf("read %q, %v", got, err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func BenchmarkGenerate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := generate(); err != nil {
			b.Fatal(err)
		}
	}
}
