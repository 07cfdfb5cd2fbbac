package tlsconf

import "github.com/netkit-go/netkit/tlsconfig"

// The SecureSocket records are public in package tlsconfig; these aliases
// let this package's conversion code and tests name them briefly.
type (
	Protocol             = tlsconfig.Protocol
	ProtocolConfig       = tlsconfig.ProtocolConfig
	KeyStore             = tlsconfig.KeyStore
	TrustStore           = tlsconfig.TrustStore
	CertKey              = tlsconfig.CertKey
	VerifyClient         = tlsconfig.VerifyClient
	MutualSSL            = tlsconfig.MutualSSL
	ListenerSecureSocket = tlsconfig.ListenerSecureSocket
	ClientSecureSocket   = tlsconfig.ClientSecureSocket
)

// Protocol families and client-verification modes.
const (
	TLS      = tlsconfig.TLS
	SSL      = tlsconfig.SSL
	Require  = tlsconfig.Require
	Optional = tlsconfig.Optional
)
