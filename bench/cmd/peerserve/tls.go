package main

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
	"time"
)

// tlsFiles is the server certificate of -tls: PEM files (some libraries
// take files, as net/http's ServeTLS and gws's RunTLS do) and the loaded
// pair.
type tlsFiles struct {
	cert, key string
	pair      tls.Certificate
}

// genCert writes a self-signed ECDSA P-256 certificate, valid for a day
// for 127.0.0.1, ::1 and localhost, to DIR/cert.pem and its key to
// DIR/key.pem. The certificate is its own CA: a client trusts it by
// trusting cert.pem.
func genCert(dir string) (certFile, keyFile string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "peerserve"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// loadTLS loads certFile and keyFile, or generates both into a temporary
// directory (removed by the returned function) when they are empty.
func loadTLS(certFile, keyFile string) (*tlsFiles, func(), error) {
	cleanup := func() {}
	if certFile == "" && keyFile == "" {
		dir, err := os.MkdirTemp("", "peerserve-tls-")
		if err != nil {
			return nil, nil, err
		}
		cleanup = func() { os.RemoveAll(dir) }
		if certFile, keyFile, err = genCert(dir); err != nil {
			cleanup()
			return nil, nil, err
		}
	} else if certFile == "" || keyFile == "" {
		return nil, nil, fmt.Errorf("-tls-cert and -tls-key go together")
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return &tlsFiles{cert: certFile, key: keyFile, pair: pair}, cleanup, nil
}
