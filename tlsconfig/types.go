package tlsconfig

import "time"

// Protocol names the secure protocol family of a [ProtocolConfig], as in
// Ballerina's `Protocol` enum.
type Protocol string

const (
	// TLS is the TLS protocol family (versions "TLSv1.1", "TLSv1.2", "TLSv1.3").
	TLS Protocol = "TLS"
	// SSL is the SSL protocol family. Go does not implement SSLv3, so it is
	// refused with an error.
	SSL Protocol = "SSL"
)

// ProtocolConfig restricts the protocol versions, as Ballerina's
// `record {| Protocol name; string[] versions = []; |}`.
type ProtocolConfig struct {
	// Name is the protocol family. If empty, TLS is used.
	Name Protocol
	// Versions lists the allowed versions by their Java names: "TLSv1.1",
	// "TLSv1.2", "TLSv1.3" (also accepted: "TLSv1", "1.2", ...). If empty, Go's
	// defaults apply (TLS 1.2 and 1.3).
	Versions []string
}

// KeyStore is a PKCS#12 file holding a private key and its certificate
// chain, as Ballerina's `crypto:KeyStore`.
type KeyStore struct {
	// Path is the file's location. Required.
	Path string
	// Password decrypts the file. Required.
	Password string
}

// TrustStore is a PKCS#12 file holding trusted CA certificates, as
// Ballerina's `crypto:TrustStore`.
type TrustStore struct {
	// Path is the file's location. Required.
	Path string
	// Password decrypts the file. Required.
	Password string
}

// CertKey names a PEM certificate (chain) file and its PEM private key file,
// as Ballerina's `CertKey`.
type CertKey struct {
	// CertFile is the PEM certificate chain's location. Required.
	CertFile string
	// KeyFile is the PEM private key's location. Required.
	KeyFile string
	// KeyPassword decrypts an encrypted key: an "ENCRYPTED PRIVATE KEY"
	// (PKCS#8 with PBES2, as written by `openssl pkcs8 -topk8` and Java) or
	// a legacy RFC 1423 encrypted PEM block. If empty, the key must be
	// unencrypted; an unencrypted key is accepted whatever KeyPassword says.
	KeyPassword string
}

// VerifyClient says whether a listener with [MutualSSL] requires or only
// requests a client certificate.
type VerifyClient string

const (
	// Require makes a client certificate mandatory (the default).
	Require VerifyClient = "REQUIRE"
	// Optional verifies a client certificate when one is sent.
	Optional VerifyClient = "OPTIONAL"
)

// MutualSSL configures client-certificate verification on a listener.
type MutualSSL struct {
	// Verify is Require (the default when empty) or Optional.
	Verify VerifyClient
	// Cert is a PEM file of CA certificates that client certificates must
	// chain to. At most one of Cert and TrustStore may be set; with neither,
	// the ClientCAs of the escape-hatch tls.Config are used (nil: the system
	// roots).
	Cert string
	// TrustStore is a PKCS#12 store of such CA certificates.
	TrustStore *TrustStore
}

// ListenerSecureSocket configures TLS on a listener, as Ballerina's
// `ListenerSecureSocket`. Exactly one of Key and CertKey is required, unless
// the escape-hatch tls.Config provides the certificate (Certificates,
// GetCertificate or GetConfigForClient).
type ListenerSecureSocket struct {
	// Key is a PKCS#12 key store with the server's key and certificate.
	Key *KeyStore
	// CertKey names PEM certificate and key files.
	CertKey *CertKey
	// MutualSSL, if set, verifies client certificates (mutual TLS).
	MutualSSL *MutualSSL
	// Protocol restricts the protocol versions. If nil, Go's defaults apply.
	Protocol *ProtocolConfig
	// Ciphers restricts the TLS 1.0-1.2 cipher suites by IANA name (for
	// example "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"; Java's "SSL_" aliases
	// and the suites of tls.InsecureCipherSuites are accepted too). If empty,
	// Go's defaults apply. A name Go does not implement (such as the DHE
	// suites) is an error. TLS 1.3 suites are accepted but not configurable
	// in Go.
	Ciphers []string
	// HandshakeTimeout bounds the TLS handshake of each accepted connection.
	// If zero, 10 s is used; a negative value disables the timeout.
	HandshakeTimeout time.Duration
	// SessionTimeout is the lifetime of session tickets, counted from when a
	// ticket is issued: an older ticket is refused and the client makes a
	// full handshake. If zero, Go's default (7 days) is used; a negative
	// value disables session tickets.
	SessionTimeout time.Duration
}

// ClientSecureSocket configures TLS on a client, as Ballerina's
// `ClientSecureSocket`. Its zero value verifies the server against the
// system roots.
type ClientSecureSocket struct {
	// Disable makes the client use plain TCP, as Ballerina's `enable: false`.
	// (The field is negated so that the zero value means TLS on.)
	Disable bool
	// Cert is a PEM file of trusted CA certificates. At most one of Cert and
	// TrustStore may be set. If neither is, the RootCAs of the escape-hatch
	// tls.Config are used, and if that is nil the system roots.
	Cert string
	// TrustStore is a PKCS#12 store of trusted CA certificates.
	TrustStore *TrustStore
	// Key is a PKCS#12 key store with the client's certificate for mutual TLS.
	Key *KeyStore
	// CertKey names PEM certificate and key files for mutual TLS.
	CertKey *CertKey
	// Protocol restricts the protocol versions. If nil, Go's defaults apply.
	Protocol *ProtocolConfig
	// Ciphers restricts the TLS 1.0-1.2 cipher suites by IANA name, as
	// ListenerSecureSocket.Ciphers.
	Ciphers []string
	// ServerName overrides the name used for SNI and host-name verification.
	// If empty, the host being dialed is used.
	ServerName string
	// SkipHostNameVerification accepts a certificate for any host name as
	// long as its chain is trusted (Ballerina's `verifyHostName: false`).
	SkipHostNameVerification bool
	// HandshakeTimeout bounds the TLS handshake. If zero, 10 s is used; a
	// negative value disables the timeout.
	HandshakeTimeout time.Duration
	// SessionTimeout is accepted for Ballerina compatibility; Go clients keep
	// sessions as long as the server's ticket allows.
	SessionTimeout time.Duration
	// DisableSessionCache turns off TLS session resumption (Ballerina's
	// `shareSession: false`). By default a client session cache (up to 64
	// servers) is shared by every connection made with the same
	// *ClientSecureSocket pointer, retries included; a copy of the struct
	// has a cache of its own. The cache is freed with the ClientSecureSocket.
	DisableSessionCache bool
}
