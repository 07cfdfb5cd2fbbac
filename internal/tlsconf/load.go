package tlsconf

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"strings"
	"sync"

	"software.sslmate.com/src/go-pkcs12"
)

func blank(s string) bool { return strings.TrimSpace(s) == "" }

// checkKeyStore and checkCertKey and checkTrustStore validate the required
// fields before anything is read, so that a missing field is reported with
// Ballerina's message even when another file is also wrong.
func checkKeyStore(ks *KeyStore) error {
	if blank(ks.Path) {
		return invalid(msgKeyStorePath)
	}
	if blank(ks.Password) {
		return invalid(msgKeyStorePassword)
	}
	return nil
}

func checkCertKey(ck *CertKey) error {
	if blank(ck.CertFile) {
		return invalid(msgCertFile)
	}
	if blank(ck.KeyFile) {
		return invalid(msgKeyFile)
	}
	return nil
}

func checkTrustStore(ts *TrustStore) error {
	if blank(ts.Path) {
		return invalid(msgTrustStorePath)
	}
	if blank(ts.Password) {
		return invalid(msgTrustStorePassword)
	}
	return nil
}

// loadIdentity loads the certificate of Key or CertKey; ok is false when
// neither is set.
func loadIdentity(ks *KeyStore, ck *CertKey) (cert tls.Certificate, ok bool, err error) {
	switch {
	case ks != nil && ck != nil:
		return cert, false, invalid("only one of Key and CertKey may be set")
	case ks != nil:
		cert, err = loadKeyStore(ks)
	case ck != nil:
		cert, err = loadCertKey(ck)
	default:
		return cert, false, nil
	}
	return cert, err == nil, err
}

// loadRoots loads the CA pool of a PEM file or a trust store; ok is false
// when neither is set.
func loadRoots(pemFile string, ts *TrustStore) (pool *x509.CertPool, ok bool, err error) {
	switch {
	case pemFile != "" && ts != nil:
		return nil, false, invalid("only one of Cert and TrustStore may be set")
	case ts != nil:
		pool, err = loadTrustStore(ts)
	case pemFile != "":
		pool, err = loadCertPool(pemFile)
	default:
		return nil, false, nil
	}
	return pool, err == nil, err
}

// loadKeyStore reads a PKCS#12 key store: the private key, its certificate
// and the CA chain that follows it.
func loadKeyStore(ks *KeyStore) (tls.Certificate, error) {
	if err := checkKeyStore(ks); err != nil {
		return tls.Certificate{}, err
	}
	data, err := os.ReadFile(ks.Path)
	if err != nil {
		return tls.Certificate{}, initFailed("read key store: %w", err)
	}
	key, leaf, chain, err := pkcs12.DecodeChain(data, ks.Password)
	if err != nil {
		return tls.Certificate{}, initFailed("decode key store %s: %w", ks.Path, err)
	}
	if err := checkKeyMatches(key, leaf); err != nil {
		return tls.Certificate{}, initFailed("key store %s: %w", ks.Path, err)
	}
	cert := tls.Certificate{PrivateKey: key, Leaf: leaf, Certificate: [][]byte{leaf.Raw}}
	for _, c := range chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	return cert, nil
}

func checkKeyMatches(key any, leaf *x509.Certificate) error {
	signer, ok := key.(crypto.Signer)
	if !ok {
		return errors.New("unsupported private key type")
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(leaf.PublicKey) {
		return errors.New("private key does not match the certificate")
	}
	return nil
}

// loadCertKey reads a PEM certificate chain and its PEM private key,
// decrypting the key with KeyPassword when it is encrypted.
func loadCertKey(ck *CertKey) (tls.Certificate, error) {
	if err := checkCertKey(ck); err != nil {
		return tls.Certificate{}, err
	}
	certPEM, err := os.ReadFile(ck.CertFile)
	if err != nil {
		return tls.Certificate{}, initFailed("read certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(ck.KeyFile)
	if err != nil {
		return tls.Certificate{}, initFailed("read private key: %w", err)
	}
	keyPEM, err = decryptKeyPEM(keyPEM, ck.KeyPassword)
	if err != nil {
		return tls.Certificate{}, initFailed("private key %s: %w", ck.KeyFile, err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, initFailed("load %s and %s: %w", ck.CertFile, ck.KeyFile, err)
	}
	return cert, nil
}

// decryptKeyPEM returns keyPEM with its private key block decrypted: an
// "ENCRYPTED PRIVATE KEY" (PKCS#8, PBES2) or a legacy RFC 1423 encrypted
// block ("Proc-Type: 4,ENCRYPTED"). An unencrypted key is returned as is.
func decryptKeyPEM(keyPEM []byte, password string) ([]byte, error) {
	rest := keyPEM
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return keyPEM, nil // no key block: let tls.X509KeyPair report it
		}
		switch {
		case block.Type == "ENCRYPTED PRIVATE KEY":
			if password == "" {
				return nil, errors.New("the key is encrypted and no KeyPassword is set")
			}
			der, err := decryptPKCS8(block.Bytes, password)
			if err != nil {
				return nil, err
			}
			return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
		case strings.HasSuffix(block.Type, "PRIVATE KEY") && x509.IsEncryptedPEMBlock(block):
			// Legacy RFC 1423 encryption is deprecated (and weak) but
			// supported on purpose: CertKey.KeyPassword documents it.
			if password == "" {
				return nil, errors.New("the key is encrypted and no KeyPassword is set")
			}
			der, err := x509.DecryptPEMBlock(block, []byte(password))
			if err != nil {
				return nil, err
			}
			return pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: der}), nil
		case strings.HasSuffix(block.Type, "PRIVATE KEY"):
			return keyPEM, nil
		}
	}
}

// loadCertPool reads the CERTIFICATE blocks of a PEM file. Unlike
// x509.CertPool.AppendCertsFromPEM it fails on a block it cannot parse.
func loadCertPool(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, initFailed("read certificates: %w", err)
	}
	pool := x509.NewCertPool()
	n := 0
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, initFailed("parse certificate in %s: %w", path, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, initFailed("no PEM certificate found in %s", path)
	}
	return pool, nil
}

// loadTrustStore reads a PKCS#12 trust store. As Java does, it trusts the
// certificates marked as trusted and, when the file is a key store instead,
// the certificate of its key entry.
func loadTrustStore(ts *TrustStore) (*x509.CertPool, error) {
	if err := checkTrustStore(ts); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(ts.Path)
	if err != nil {
		return nil, initFailed("read trust store: %w", err)
	}
	certs, err := pkcs12.DecodeTrustStore(data, ts.Password)
	if err != nil {
		_, leaf, _, err2 := pkcs12.DecodeChain(data, ts.Password)
		if err2 != nil {
			return nil, initFailed("decode trust store %s: %w", ts.Path, err)
		}
		certs = []*x509.Certificate{leaf}
	}
	if len(certs) == 0 {
		return nil, initFailed("trust store %s holds no certificate", ts.Path)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// applyProtocol sets MinVersion and MaxVersion from p.
func applyProtocol(cfg *tls.Config, p *ProtocolConfig) error {
	if p == nil {
		return nil
	}
	switch strings.ToUpper(strings.TrimSpace(string(p.Name))) {
	case "", string(TLS):
	case string(SSL):
		return invalid("SSL protocol is not supported: Go implements TLS only")
	default:
		return invalidf("unsupported protocol %q: use TLS", p.Name)
	}
	var lo, hi uint16
	for _, name := range p.Versions {
		v, err := parseVersion(name)
		if err != nil {
			return err
		}
		if lo == 0 || v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	if hi != 0 {
		cfg.MinVersion, cfg.MaxVersion = lo, hi
	}
	return nil
}

// parseVersion accepts Java's names ("TLSv1", "TLSv1.2"), Go's ("TLS 1.2")
// and bare numbers ("1.2").
func parseVersion(name string) (uint16, error) {
	s := strings.ToUpper(strings.TrimSpace(name))
	switch {
	case strings.HasPrefix(s, "SSL"):
		return 0, invalidf("SSL protocol version %q is not supported: Go implements TLS only", name)
	case strings.HasPrefix(s, "TLSV"):
		s = s[len("TLSV"):]
	case strings.HasPrefix(s, "TLS"):
		s = s[len("TLS"):]
	}
	switch strings.ReplaceAll(strings.TrimSpace(s), "_", ".") {
	case "1", "1.0":
		return tls.VersionTLS10, nil
	case "1.1":
		return tls.VersionTLS11, nil
	case "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, invalidf("unsupported TLS protocol version %q", name)
}

var cipherIDs = sync.OnceValue(func() map[string]uint16 {
	m := make(map[string]uint16)
	for _, list := range [][]*tls.CipherSuite{tls.CipherSuites(), tls.InsecureCipherSuites()} {
		for _, c := range list {
			m[c.Name] = c.ID
		}
	}
	return m
})

// parseCiphers maps IANA cipher suite names to IDs. Java's "SSL_" prefixed
// aliases are accepted too.
func parseCiphers(names []string) ([]uint16, error) {
	ids := make([]uint16, 0, len(names))
	m := cipherIDs()
	for _, name := range names {
		n := strings.ToUpper(strings.TrimSpace(name))
		id, ok := m[n]
		if !ok && strings.HasPrefix(n, "SSL_") {
			id, ok = m["TLS_"+n[len("SSL_"):]]
		}
		if !ok {
			return nil, invalidf("unsupported cipher suite %q", name)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// applyCommon applies the fields shared by listeners and clients.
func applyCommon(cfg *tls.Config, p *ProtocolConfig, ciphers []string) error {
	if err := applyProtocol(cfg, p); err != nil {
		return err
	}
	if len(ciphers) > 0 {
		ids, err := parseCiphers(ciphers)
		if err != nil {
			return err
		}
		cfg.CipherSuites = ids
	}
	return nil
}
