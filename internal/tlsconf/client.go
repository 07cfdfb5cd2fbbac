package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"weak"
)

// ClientConfig returns the *tls.Config of a client: a clone of base (which
// may be nil) with the fields of s applied on top. serverName is the host
// being dialed (for a CONNECT proxy: the target host); an IPv6 literal may
// come with brackets or a zone, both are removed.
//
// s applies, when set:
//   - Cert (PEM) or TrustStore (PKCS#12): RootCAs. With neither, base.RootCAs
//     is kept; nil means the system roots.
//   - Key (PKCS#12) or CertKey (PEM): the client certificate for mutual TLS,
//     replacing base.Certificates.
//   - ServerName: SNI and the name verified. Otherwise base.ServerName, and
//     otherwise serverName. An IP address is verified against the
//     certificate's IP addresses (and sent without SNI).
//   - SkipHostNameVerification: InsecureSkipVerify is set and a
//     VerifyConnection installed that still verifies the certificate chain
//     against RootCAs (with base.Time as the clock), without the host-name
//     check; base.VerifyConnection, if any, runs after it. The chain is never
//     left unverified.
//   - Protocol and Ciphers: as in [ServerConfig].
//   - DisableSessionCache: ClientSessionCache is cleared. Otherwise, unless
//     base sets one, ClientSessionCache is a cache shared by every config
//     built from the same *ClientSecureSocket pointer (so redials and retries
//     resume sessions). Each cache holds at most 64 sessions (one per server
//     name, least recently used evicted) and is released when that
//     *ClientSecureSocket is garbage collected, so the total is bounded by
//     the live configurations.
//
// Disable and HandshakeTimeout are for the caller (plain TCP; [Handshake]).
// If s is nil, ClientConfig returns a clone of base with ServerName set as
// above, or an error when base is nil too. Every error is a *[ConfigError].
func ClientConfig(s *ClientSecureSocket, base *tls.Config, serverName string) (*tls.Config, error) {
	if s == nil && base == nil {
		return nil, invalid("no TLS configuration: both the SecureSocket and the TLS config are nil")
	}
	cfg := &tls.Config{}
	if base != nil {
		cfg = base.Clone()
	}
	if s == nil {
		if cfg.ServerName == "" {
			cfg.ServerName = normalizeServerName(serverName)
		}
		return cfg, nil
	}

	if s.TrustStore != nil {
		if err := checkTrustStore(s.TrustStore); err != nil {
			return nil, err
		}
	}
	if s.Key != nil {
		if err := checkKeyStore(s.Key); err != nil {
			return nil, err
		}
	}
	if s.CertKey != nil {
		if err := checkCertKey(s.CertKey); err != nil {
			return nil, err
		}
	}

	pool, ok, err := loadRoots(s.Cert, s.TrustStore)
	if err != nil {
		return nil, err
	}
	if ok {
		cfg.RootCAs = pool
	}
	cert, ok, err := loadIdentity(s.Key, s.CertKey)
	if err != nil {
		return nil, err
	}
	if ok {
		cfg.Certificates = []tls.Certificate{cert}
	}

	switch {
	case s.ServerName != "":
		cfg.ServerName = normalizeServerName(s.ServerName)
	case cfg.ServerName == "":
		cfg.ServerName = normalizeServerName(serverName)
	}

	if s.SkipHostNameVerification {
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = verifyChainOnly(cfg.RootCAs, cfg.Time, cfg.VerifyConnection)
	}

	if err := applyCommon(cfg, s.Protocol, s.Ciphers); err != nil {
		return nil, err
	}

	if s.DisableSessionCache {
		cfg.ClientSessionCache = nil
	} else if cfg.ClientSessionCache == nil {
		cfg.ClientSessionCache = sessionCacheFor(s)
	}
	return cfg, nil
}

// normalizeServerName strips the brackets and zone of an IPv6 literal and
// unmaps an IPv4-mapped address; a host name is returned unchanged.
func normalizeServerName(host string) string {
	h := host
	if len(h) > 1 && h[0] == '[' && h[len(h)-1] == ']' {
		h = h[1 : len(h)-1]
	}
	if addr, err := netip.ParseAddr(h); err == nil {
		return addr.WithZone("").Unmap().String()
	}
	return host
}

// verifyChainOnly verifies the server's chain against roots (nil: the system
// roots) without checking the host name, then calls next if set.
func verifyChainOnly(roots *x509.CertPool, clock func() time.Time, next func(tls.ConnectionState) error) func(tls.ConnectionState) error {
	if clock == nil {
		clock = time.Now
	}
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("tls: server presented no certificate")
		}
		opts := x509.VerifyOptions{
			Roots:         roots,
			CurrentTime:   clock(),
			Intermediates: x509.NewCertPool(),
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		for _, c := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(c)
		}
		if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
			return &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates, Err: err}
		}
		if next != nil {
			return next(cs)
		}
		return nil
	}
}

// sessionCacheSize is the capacity of each client session cache. Sessions
// are keyed by server name, so this is the number of distinct servers a
// configuration remembers.
const sessionCacheSize = 64

// sessionCaches maps each live *ClientSecureSocket (by identity, through a
// weak pointer that does not keep it alive) to its session cache. A cleanup
// attached to the ClientSecureSocket removes its entry once it is garbage
// collected, so the map only holds entries for live configurations.
var sessionCaches struct {
	sync.Mutex
	m map[weak.Pointer[ClientSecureSocket]]tls.ClientSessionCache
}

// cacheReleased, when set (by tests), is called after an entry is removed.
var cacheReleased atomic.Pointer[func(weak.Pointer[ClientSecureSocket])]

func sessionCacheFor(s *ClientSecureSocket) tls.ClientSessionCache {
	key := weak.Make(s)
	sessionCaches.Lock()
	defer sessionCaches.Unlock()
	if c, ok := sessionCaches.m[key]; ok {
		return c
	}
	if sessionCaches.m == nil {
		sessionCaches.m = make(map[weak.Pointer[ClientSecureSocket]]tls.ClientSessionCache)
	}
	c := tls.NewLRUClientSessionCache(sessionCacheSize)
	sessionCaches.m[key] = c
	runtime.AddCleanup(s, releaseSessionCache, key)
	return c
}

func releaseSessionCache(key weak.Pointer[ClientSecureSocket]) {
	sessionCaches.Lock()
	delete(sessionCaches.m, key)
	sessionCaches.Unlock()
	if f := cacheReleased.Load(); f != nil {
		(*f)(key)
	}
}
