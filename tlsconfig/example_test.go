package tlsconfig_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/netkit-go/netkit/tcp"
	"github.com/netkit-go/netkit/tlsconfig"
)

// A TLS listener and a client that trusts its CA, as Ballerina's
// secureSocket records. The files are PEM; KeyStore and TrustStore take
// PKCS#12 files instead.
func Example() {
	server := &tlsconfig.ListenerSecureSocket{
		CertKey: &tlsconfig.CertKey{CertFile: "server.crt", KeyFile: "server.key"},
		Protocol: &tlsconfig.ProtocolConfig{
			Name:     tlsconfig.TLS,
			Versions: []string{"TLSv1.2", "TLSv1.3"},
		},
		MutualSSL:        &tlsconfig.MutualSSL{Verify: tlsconfig.Optional, Cert: "clients-ca.crt"},
		HandshakeTimeout: 5 * time.Second,
	}
	client := &tlsconfig.ClientSecureSocket{
		Cert:       "ca.crt",
		ServerName: "localhost",
	}

	// The files are read here: a missing file is reported by NewListener.
	l, err := tcp.NewListener(0, &tcp.ListenerConfig{LocalHost: "127.0.0.1", SecureSocket: server})
	if err != nil {
		fmt.Println("listener:", err != nil)
	} else {
		defer l.ImmediateStop()
	}

	// And by NewClient on the client side.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := tcp.NewClient(ctx, "127.0.0.1", 1, &tcp.ClientConfig{SecureSocket: client}); err == nil {
		log.Fatal("want an error for a missing CA file")
	}
	// Output:
	// listener: true
}
