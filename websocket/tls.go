package websocket

import "github.com/netkit-go/netkit/internal/tlsconf"

// ListenerSecureSocket configures a listener's TLS (wss), the same type as
// tcp.ListenerSecureSocket.
type ListenerSecureSocket = tlsconf.ListenerSecureSocket

// ClientSecureSocket configures a client's TLS, the same type as
// tcp.ClientSecureSocket.
type ClientSecureSocket = tlsconf.ClientSecureSocket

// CertKey names PEM certificate and private key files.
type CertKey = tlsconf.CertKey

// KeyStore is a PKCS#12 key store.
type KeyStore = tlsconf.KeyStore

// TrustStore is a PKCS#12 trust store.
type TrustStore = tlsconf.TrustStore

// MutualSSL configures client-certificate verification on a listener.
type MutualSSL = tlsconf.MutualSSL

// ProtocolConfig restricts TLS protocol versions.
type ProtocolConfig = tlsconf.ProtocolConfig

// Protocol names a secure protocol family.
type Protocol = tlsconf.Protocol

// Protocol families and client-verification modes.
const (
	TLS      = tlsconf.TLS
	SSL      = tlsconf.SSL
	Require  = tlsconf.Require
	Optional = tlsconf.Optional
)
