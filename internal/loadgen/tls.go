package loadgen

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
)

// curveNames are the key exchanges Config.TLSCurves may name.
var curveNames = map[string]tls.CurveID{
	"x25519":         tls.X25519,
	"p256":           tls.CurveP256,
	"p384":           tls.CurveP384,
	"p521":           tls.CurveP521,
	"x25519mlkem768": tls.X25519MLKEM768,
}

// tlsConfig is the client TLS configuration of a wss:// run: crypto/tls
// with TLS 1.2 or later, ALPN http/1.1, no session cache (so that every
// connection makes a full handshake), the server verified against
// c.CAFile or the system roots unless c.Insecure.
func tlsConfig(c *Config, host string) (*tls.Config, error) {
	name, _, err := net.SplitHostPort(host)
	if err != nil {
		return nil, fmt.Errorf("loadgen: bad wss host %q: %w", host, err)
	}
	tc := &tls.Config{ServerName: name, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12,
		InsecureSkipVerify: c.Insecure}
	switch c.TLSVersion {
	case "":
	case "1.2":
		tc.MinVersion, tc.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	case "1.3":
		tc.MinVersion, tc.MaxVersion = tls.VersionTLS13, tls.VersionTLS13
	default:
		return nil, fmt.Errorf("loadgen: TLS version %q (want 1.2 or 1.3)", c.TLSVersion)
	}
	for _, n := range c.TLSCurves {
		id, ok := curveNames[strings.ToLower(strings.TrimSpace(n))]
		if !ok {
			return nil, fmt.Errorf("loadgen: unknown TLS key exchange %q (want x25519, p256, p384, p521 or x25519mlkem768)", n)
		}
		tc.CurvePreferences = append(tc.CurvePreferences, id)
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("loadgen: CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("loadgen: no PEM certificate in the CA file " + c.CAFile)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// noteTLS keeps the first connection's TLS parameters for the result.
func (r *run) noteTLS(cs tls.ConnectionState) {
	r.tlsMu.Lock()
	defer r.tlsMu.Unlock()
	if r.tlsInfo == "" {
		r.tlsInfo = fmt.Sprintf("%s %s %s", tls.VersionName(cs.Version), tls.CipherSuiteName(cs.CipherSuite), cs.CurveID)
	}
}
