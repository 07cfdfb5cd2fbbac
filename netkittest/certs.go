package netkittest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// StorePassword is the password of the PKCS#12 key and trust stores written
// by [NewCertificates].
const StorePassword = "ballerina"

// Certificates is a throw-away PKI for tests: a CA, a server certificate for
// "localhost", 127.0.0.1 and ::1 and a client certificate (for mutual TLS),
// both issued by the CA, and a second, unrelated CA for negative tests. The
// string fields are paths of files in the test's temporary directory.
//
// The keys are ECDSA P-256, generated once per test binary (no key is ever
// committed); each [NewCertificates] call writes fresh copies of the files.
// The certificates are valid from one hour before the first call for 30 days.
type Certificates struct {
	// CACert is the PEM certificate of the CA.
	CACert string
	// ServerCert and ServerKey are the PEM server certificate (leaf only) and
	// its unencrypted PKCS#8 private key.
	ServerCert, ServerKey string
	// ClientCert and ClientKey are the PEM client certificate (leaf only) and
	// its unencrypted PKCS#8 private key.
	ClientCert, ClientKey string
	// OtherCACert is the PEM certificate of an unrelated CA that issued
	// nothing here: trusting only it must fail.
	OtherCACert string
	// ServerKeyStore and ClientKeyStore are PKCS#12 files with the key, the
	// certificate and the CA, encrypted with StorePassword.
	ServerKeyStore, ClientKeyStore string
	// TrustStore is a PKCS#12 trust store (Java style) holding the CA,
	// encrypted with StorePassword.
	TrustStore string

	// CAPool holds the CA (a fresh pool per call: add to it freely).
	CAPool *x509.CertPool
	// OtherCAPool holds the unrelated CA.
	OtherCAPool *x509.CertPool
	// Server and Client are the server and client certificates with their
	// keys (Leaf set), ready for tls.Config.Certificates.
	Server, Client tls.Certificate
}

// pki is the key material generated once per test binary.
type pki struct {
	ca, otherCA, server, client *x509.Certificate
	files                       map[string][]byte // base name -> contents
	serverPair, clientPair      tls.Certificate
}

var generated = sync.OnceValues(generate)

// NewCertificates writes the test PKI into tb.TempDir() and returns its
// paths and parsed forms.
func NewCertificates(tb testing.TB) *Certificates {
	tb.Helper()
	p, err := generated()
	if err != nil {
		tb.Fatalf("netkittest: generate certificates: %v", err)
	}
	dir := tb.TempDir()
	path := func(name string) string {
		full := filepath.Join(dir, name)
		if err := os.WriteFile(full, p.files[name], 0o600); err != nil {
			tb.Fatalf("netkittest: %v", err)
		}
		return full
	}
	c := &Certificates{
		CACert:         path("ca.crt"),
		ServerCert:     path("server.crt"),
		ServerKey:      path("server.key"),
		ClientCert:     path("client.crt"),
		ClientKey:      path("client.key"),
		OtherCACert:    path("other-ca.crt"),
		ServerKeyStore: path("server.p12"),
		ClientKeyStore: path("client.p12"),
		TrustStore:     path("truststore.p12"),
		CAPool:         x509.NewCertPool(),
		OtherCAPool:    x509.NewCertPool(),
		Server:         p.serverPair,
		Client:         p.clientPair,
	}
	c.CAPool.AddCert(p.ca)
	c.OtherCAPool.AddCert(p.otherCA)
	return c
}

// TLSPair returns matching configs built on [NewCertificates]: the server
// presents the server certificate and accepts client certificates issued by
// the CA (ClientCAs set; set ClientAuth to tls.RequireAndVerifyClientCert to
// require one); the client trusts the CA, verifies "localhost" and has the
// client certificate ready.
func TLSPair(tb testing.TB) (server, client *tls.Config) {
	tb.Helper()
	c := NewCertificates(tb)
	server = &tls.Config{
		Certificates: []tls.Certificate{c.Server},
		ClientCAs:    c.CAPool,
	}
	client = &tls.Config{
		RootCAs:      c.CAPool,
		ServerName:   "localhost",
		Certificates: []tls.Certificate{c.Client},
	}
	return server, client
}

func generate() (*pki, error) {
	notBefore := time.Now().Add(-time.Hour)
	notAfter := notBefore.Add(30 * 24 * time.Hour)
	p := &pki{files: make(map[string][]byte)}

	ca, caKey, err := newCert("netkit test CA", notBefore, notAfter, nil, nil, func(t *x509.Certificate) {
		t.IsCA = true
		t.BasicConstraintsValid = true
		t.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	})
	if err != nil {
		return nil, err
	}
	other, _, err := newCert("netkit unrelated test CA", notBefore, notAfter, nil, nil, func(t *x509.Certificate) {
		t.IsCA = true
		t.BasicConstraintsValid = true
		t.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	})
	if err != nil {
		return nil, err
	}
	server, serverKey, err := newCert("localhost", notBefore, notAfter, ca, caKey, func(t *x509.Certificate) {
		t.DNSNames = []string{"localhost"}
		t.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		t.KeyUsage = x509.KeyUsageDigitalSignature
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	})
	if err != nil {
		return nil, err
	}
	client, clientKey, err := newCert("netkit test client", notBefore, notAfter, ca, caKey, func(t *x509.Certificate) {
		t.KeyUsage = x509.KeyUsageDigitalSignature
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	})
	if err != nil {
		return nil, err
	}
	p.ca, p.otherCA, p.server, p.client = ca, other, server, client

	p.files["ca.crt"] = certPEM(ca)
	p.files["other-ca.crt"] = certPEM(other)
	p.files["server.crt"] = certPEM(server)
	p.files["client.crt"] = certPEM(client)
	if p.files["server.key"], err = keyPEM(serverKey); err != nil {
		return nil, err
	}
	if p.files["client.key"], err = keyPEM(clientKey); err != nil {
		return nil, err
	}
	if p.serverPair, err = tls.X509KeyPair(p.files["server.crt"], p.files["server.key"]); err != nil {
		return nil, err
	}
	if p.clientPair, err = tls.X509KeyPair(p.files["client.crt"], p.files["client.key"]); err != nil {
		return nil, err
	}

	enc := pkcs12.Modern2023
	if p.files["server.p12"], err = enc.Encode(serverKey, server, []*x509.Certificate{ca}, StorePassword); err != nil {
		return nil, fmt.Errorf("encode server key store: %w", err)
	}
	if p.files["client.p12"], err = enc.Encode(clientKey, client, []*x509.Certificate{ca}, StorePassword); err != nil {
		return nil, fmt.Errorf("encode client key store: %w", err)
	}
	if p.files["truststore.p12"], err = enc.EncodeTrustStore([]*x509.Certificate{ca}, StorePassword); err != nil {
		return nil, fmt.Errorf("encode trust store: %w", err)
	}
	return p, nil
}

// newCert creates a certificate for a fresh P-256 key, signed by parent
// (self-signed when parent is nil).
func newCert(cn string, notBefore, notAfter time.Time, parent *x509.Certificate, parentKey *ecdsa.PrivateKey,
	edit func(*x509.Certificate)) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"netkit tests"}},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
	}
	edit(tmpl)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate %q: %w", cn, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func keyPEM(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
