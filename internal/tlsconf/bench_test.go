package tlsconf

import (
	"context"
	"crypto/tls"
	"net"
	"testing"

	"github.com/netkit-go/netkit/netkittest"
)

func BenchmarkServerConfig(b *testing.B) {
	c := netkittest.NewCertificates(b)
	for _, bc := range []struct {
		name string
		s    *ListenerSecureSocket
	}{
		{"PEM", pemListener(c)},
		{"PKCS12", &ListenerSecureSocket{Key: &KeyStore{Path: c.ServerKeyStore, Password: netkittest.StorePassword}}},
		{"PEM+mutualTrustStore", &ListenerSecureSocket{CertKey: &CertKey{CertFile: c.ServerCert, KeyFile: c.ServerKey},
			MutualSSL: &MutualSSL{TrustStore: &TrustStore{Path: c.TrustStore, Password: netkittest.StorePassword}}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ServerConfig(bc.s, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkClientConfig(b *testing.B) {
	c := netkittest.NewCertificates(b)
	for _, bc := range []struct {
		name string
		s    *ClientSecureSocket
	}{
		{"PEM", &ClientSecureSocket{Cert: c.CACert}},
		{"TrustStore", &ClientSecureSocket{TrustStore: &TrustStore{Path: c.TrustStore, Password: netkittest.StorePassword}}},
		{"baseOnly", &ClientSecureSocket{}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			base := &tls.Config{RootCAs: c.CAPool}
			for b.Loop() {
				if _, err := ClientConfig(bc.s, base, "localhost"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHandshake measures a TLS 1.3 handshake over loopback through
// Handshake on both sides, full and resumed.
func BenchmarkHandshake(b *testing.B) {
	c := netkittest.NewCertificates(b)
	srv, err := ServerConfig(pemListener(c), nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name   string
		resume bool
	}{{"full", false}, {"resumed", true}} {
		b.Run(bc.name, func(b *testing.B) {
			s := &ClientSecureSocket{Cert: c.CACert, DisableSessionCache: !bc.resume}
			cli, err := ClientConfig(s, nil, "localhost")
			if err != nil {
				b.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			done := make(chan error)
			go func() {
				for {
					nc, err := ln.Accept()
					if err != nil {
						close(done)
						return
					}
					tc := tls.Server(nc, srv)
					err = Handshake(context.Background(), tc, 0)
					if err == nil {
						_, err = tc.Write([]byte{1}) // lets the client take the ticket
					}
					nc.Close()
					if err != nil {
						done <- err
					}
				}
			}()
			b.ReportAllocs()
			resumed := 0
			for b.Loop() {
				nc, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				tc := tls.Client(nc, cli)
				if err := Handshake(context.Background(), tc, 0); err != nil {
					b.Fatal(err)
				}
				var one [1]byte
				if _, err := tc.Read(one[:]); err != nil {
					b.Fatal(err)
				}
				if tc.ConnectionState().DidResume {
					resumed++
				}
				nc.Close()
			}
			ln.Close()
			if err, ok := <-done; ok {
				b.Fatal(err)
			}
			if bc.resume && resumed == 0 {
				b.Fatal("no connection resumed")
			}
		})
	}
}
