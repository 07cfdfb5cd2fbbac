package tlsconf

import (
	"crypto/tls"
	"encoding/binary"
	"strings"
	"time"
)

// ServerConfig returns the *tls.Config of a listener: a clone of base (which
// may be nil) with the fields of s applied on top.
//
// base is the escape hatch for what SecureSocket cannot express: its
// callbacks (GetCertificate for certificate rotation, GetConfigForClient,
// VerifyPeerCertificate, ...), NextProtos and every other field survive
// unless s sets the same thing. When base.GetCertificate is set, crypto/tls
// consults it first whenever the client sends SNI, and falls back on the
// certificate of s when it returns nil. NextProtos (ALPN) is left as base
// has it: the caller decides.
//
// s applies, when set:
//   - Key (PKCS#12) or CertKey (PEM): the certificate, replacing
//     base.Certificates. One of them is required unless base provides a
//     certificate (Certificates, GetCertificate or GetConfigForClient).
//   - MutualSSL: ClientAuth (tls.RequireAndVerifyClientCert for Require,
//     tls.VerifyClientCertIfGiven for Optional) and ClientCAs from Cert or
//     TrustStore; with neither, base.ClientCAs is kept (nil means the
//     system roots).
//   - Protocol: MinVersion and MaxVersion, the lowest and highest of
//     Versions. Name SSL is an error.
//   - Ciphers: CipherSuites, by IANA name; an unknown name is an error.
//   - SessionTimeout: negative disables session tickets; positive makes the
//     server refuse to resume a session whose ticket is older (measured from
//     when the ticket was issued, with base.Time as the clock if set). The
//     lifetime is enforced through WrapSession and UnwrapSession, chained
//     with those of base when set.
//
// HandshakeTimeout is not part of a *tls.Config: pass it to [Handshake].
// If s is nil, ServerConfig returns a clone of base, or an error when base is
// nil too. Every error is a *[ConfigError].
func ServerConfig(s *ListenerSecureSocket, base *tls.Config) (*tls.Config, error) {
	if s == nil {
		if base == nil {
			return nil, invalid("no TLS configuration: both the SecureSocket and the TLS config are nil")
		}
		return base.Clone(), nil
	}
	cfg := &tls.Config{}
	if base != nil {
		cfg = base.Clone()
	}

	// Report a missing field before any file problem, as Ballerina does.
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
	if m := s.MutualSSL; m != nil && m.TrustStore != nil {
		if err := checkTrustStore(m.TrustStore); err != nil {
			return nil, err
		}
	}

	cert, ok, err := loadIdentity(s.Key, s.CertKey)
	if err != nil {
		return nil, err
	}
	if ok {
		cfg.Certificates = []tls.Certificate{cert}
	} else if len(cfg.Certificates) == 0 && cfg.GetCertificate == nil && cfg.GetConfigForClient == nil {
		return nil, invalid("KeyStore or CertKey must be provided for secure connection")
	}

	if m := s.MutualSSL; m != nil {
		switch strings.ToUpper(strings.TrimSpace(string(m.Verify))) {
		case "", string(Require):
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		case string(Optional):
			cfg.ClientAuth = tls.VerifyClientCertIfGiven
		default:
			return nil, invalidf("unknown MutualSSL.Verify %q: use REQUIRE or OPTIONAL", m.Verify)
		}
		pool, ok, err := loadRoots(m.Cert, m.TrustStore)
		if err != nil {
			return nil, err
		}
		if ok {
			cfg.ClientCAs = pool
		}
	}

	if err := applyCommon(cfg, s.Protocol, s.Ciphers); err != nil {
		return nil, err
	}

	switch {
	case s.SessionTimeout < 0:
		cfg.SessionTicketsDisabled = true
	case s.SessionTimeout > 0:
		limitTicketLifetime(cfg, s.SessionTimeout)
	}
	return cfg, nil
}

// ticketStampPrefix marks the SessionState.Extra entry holding the time a
// ticket was issued (8 bytes, Unix seconds, big endian).
const ticketStampPrefix = "netkit/tlsconf issued "

// limitTicketLifetime makes cfg refuse session tickets older than lifetime.
// Tickets are sealed with cfg's keys (or by base's WrapSession) and stamped
// with their issue time; UnwrapSession drops expired ones, which makes the
// client fall back to a full handshake.
func limitTicketLifetime(cfg *tls.Config, lifetime time.Duration) {
	now := time.Now
	if cfg.Time != nil {
		now = cfg.Time
	}
	wrap, unwrap := cfg.WrapSession, cfg.UnwrapSession
	if wrap == nil {
		wrap = cfg.EncryptTicket
	}
	if unwrap == nil {
		unwrap = cfg.DecryptTicket
	}
	cfg.WrapSession = func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
		stamp := make([]byte, len(ticketStampPrefix)+8)
		copy(stamp, ticketStampPrefix)
		binary.BigEndian.PutUint64(stamp[len(ticketStampPrefix):], uint64(now().Unix()))
		ss.Extra = append(ss.Extra, stamp)
		return wrap(cs, ss)
	}
	cfg.UnwrapSession = func(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
		ss, err := unwrap(identity, cs)
		if err != nil || ss == nil {
			return ss, err
		}
		for _, e := range ss.Extra {
			if len(e) == len(ticketStampPrefix)+8 && string(e[:len(ticketStampPrefix)]) == ticketStampPrefix {
				issued := time.Unix(int64(binary.BigEndian.Uint64(e[len(ticketStampPrefix):])), 0)
				if now().Sub(issued) > lifetime {
					return nil, nil // expired: full handshake
				}
				return ss, nil
			}
		}
		return nil, nil // not ours (issued before the limit was set): full handshake
	}
}
