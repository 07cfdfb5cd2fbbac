package tlsconf

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netkit-go/netkit/netkittest"
)

func TestValidationMessages(t *testing.T) {
	c := netkittest.NewCertificates(t)
	pw := netkittest.StorePassword
	key := &CertKey{CertFile: c.ServerCert, KeyFile: c.ServerKey}
	type tc struct {
		name   string
		server *ListenerSecureSocket
		client *ClientSecureSocket
		msg    string
	}
	cases := []tc{
		{name: "server keystore path", server: &ListenerSecureSocket{Key: &KeyStore{Password: pw}}, msg: msgKeyStorePath},
		{name: "server keystore blank path", server: &ListenerSecureSocket{Key: &KeyStore{Path: "  ", Password: pw}}, msg: msgKeyStorePath},
		{name: "server keystore password", server: &ListenerSecureSocket{Key: &KeyStore{Path: c.ServerKeyStore}}, msg: msgKeyStorePassword},
		{name: "server cert file", server: &ListenerSecureSocket{CertKey: &CertKey{KeyFile: c.ServerKey}}, msg: msgCertFile},
		{name: "server key file", server: &ListenerSecureSocket{CertKey: &CertKey{CertFile: c.ServerCert}}, msg: msgKeyFile},
		{name: "mutual truststore path", server: &ListenerSecureSocket{CertKey: key, MutualSSL: &MutualSSL{TrustStore: &TrustStore{Password: pw}}}, msg: msgTrustStorePath},
		{name: "mutual truststore password", server: &ListenerSecureSocket{CertKey: key, MutualSSL: &MutualSSL{TrustStore: &TrustStore{Path: c.TrustStore}}}, msg: msgTrustStorePassword},
		// A missing field is reported even when another file is broken.
		{name: "missing field first", server: &ListenerSecureSocket{CertKey: &CertKey{CertFile: "/nonexistent", KeyFile: "/nonexistent"}, MutualSSL: &MutualSSL{TrustStore: &TrustStore{Path: c.TrustStore}}}, msg: msgTrustStorePassword},

		{name: "client truststore path", client: &ClientSecureSocket{TrustStore: &TrustStore{Password: pw}}, msg: msgTrustStorePath},
		{name: "client truststore password", client: &ClientSecureSocket{TrustStore: &TrustStore{Path: c.TrustStore}}, msg: msgTrustStorePassword},
		{name: "client keystore path", client: &ClientSecureSocket{Key: &KeyStore{Password: pw}}, msg: msgKeyStorePath},
		{name: "client keystore password", client: &ClientSecureSocket{Key: &KeyStore{Path: c.ClientKeyStore}}, msg: msgKeyStorePassword},
		{name: "client cert file", client: &ClientSecureSocket{CertKey: &CertKey{KeyFile: c.ClientKey}}, msg: msgCertFile},
		{name: "client key file", client: &ClientSecureSocket{CertKey: &CertKey{CertFile: c.ClientCert}}, msg: msgKeyFile},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.server != nil {
				_, err = ServerConfig(tc.server, nil)
			} else {
				_, err = ClientConfig(tc.client, nil, "localhost")
			}
			ce := configError(t, err)
			if ce.Msg != tc.msg || err.Error() != tc.msg || ce.Err != nil {
				t.Fatalf("got %q (Err %v), want %q", err, ce.Err, tc.msg)
			}
		})
	}
	// The exact texts, as Ballerina's tests assert them.
	for got, want := range map[string]string{
		msgKeyStorePath:       "KeyStore file location must be provided for secure connection",
		msgKeyStorePassword:   "KeyStore password must be provided for secure connection",
		msgCertFile:           "Certificate file location must be provided for secure connection",
		msgKeyFile:            "Private key file location must be provided for secure connection",
		msgTrustStorePath:     "TrustStore file location must be provided for secure connection",
		msgTrustStorePassword: "TrustStore password must be provided for secure connection",
	} {
		if got != want {
			t.Errorf("message %q, want %q", got, want)
		}
	}
}

func TestConflictingFields(t *testing.T) {
	c := netkittest.NewCertificates(t)
	ks := &KeyStore{Path: c.ServerKeyStore, Password: netkittest.StorePassword}
	ck := &CertKey{CertFile: c.ServerCert, KeyFile: c.ServerKey}
	ts := &TrustStore{Path: c.TrustStore, Password: netkittest.StorePassword}
	for _, err := range []error{
		func() error { _, err := ServerConfig(&ListenerSecureSocket{Key: ks, CertKey: ck}, nil); return err }(),
		func() error {
			_, err := ServerConfig(&ListenerSecureSocket{CertKey: ck, MutualSSL: &MutualSSL{Cert: c.CACert, TrustStore: ts}}, nil)
			return err
		}(),
		func() error {
			_, err := ServerConfig(&ListenerSecureSocket{CertKey: ck, MutualSSL: &MutualSSL{Verify: "SOMETIMES"}}, nil)
			return err
		}(),
		func() error {
			_, err := ClientConfig(&ClientSecureSocket{Cert: c.CACert, TrustStore: ts}, nil, "x")
			return err
		}(),
		func() error { _, err := ClientConfig(&ClientSecureSocket{Key: ks, CertKey: ck}, nil, "x"); return err }(),
	} {
		configError(t, err)
	}
}

func TestInitFailures(t *testing.T) {
	c := netkittest.NewCertificates(t)
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	garbage := write("garbage", "this is not a key store")
	badPEM := write("bad.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
	missing := filepath.Join(dir, "missing")
	pw := netkittest.StorePassword

	for _, tc := range []struct {
		name     string
		server   *ListenerSecureSocket
		client   *ClientSecureSocket
		notExist bool
	}{
		{name: "malformed keystore", server: &ListenerSecureSocket{Key: &KeyStore{Path: garbage, Password: pw}}},
		{name: "keystore wrong password", server: &ListenerSecureSocket{Key: &KeyStore{Path: c.ServerKeyStore, Password: "wrong"}}},
		{name: "missing keystore", server: &ListenerSecureSocket{Key: &KeyStore{Path: missing, Password: pw}}, notExist: true},
		{name: "malformed PEM cert", server: &ListenerSecureSocket{CertKey: &CertKey{CertFile: badPEM, KeyFile: c.ServerKey}}},
		{name: "garbage PEM key", server: &ListenerSecureSocket{CertKey: &CertKey{CertFile: c.ServerCert, KeyFile: garbage}}},
		{name: "key does not match cert", server: &ListenerSecureSocket{CertKey: &CertKey{CertFile: c.ServerCert, KeyFile: c.ClientKey}}},
		{name: "missing PEM key", server: &ListenerSecureSocket{CertKey: &CertKey{CertFile: c.ServerCert, KeyFile: missing}}, notExist: true},
		{name: "malformed mutual truststore", server: &ListenerSecureSocket{CertKey: &CertKey{CertFile: c.ServerCert, KeyFile: c.ServerKey}, MutualSSL: &MutualSSL{TrustStore: &TrustStore{Path: garbage, Password: pw}}}},
		{name: "mutual PEM without certificates", server: &ListenerSecureSocket{CertKey: &CertKey{CertFile: c.ServerCert, KeyFile: c.ServerKey}, MutualSSL: &MutualSSL{Cert: garbage}}},
		{name: "malformed client truststore", client: &ClientSecureSocket{TrustStore: &TrustStore{Path: garbage, Password: pw}}},
		{name: "truststore wrong password", client: &ClientSecureSocket{TrustStore: &TrustStore{Path: c.TrustStore, Password: "wrong"}}},
		{name: "malformed client PEM roots", client: &ClientSecureSocket{Cert: badPEM}},
		{name: "missing client PEM roots", client: &ClientSecureSocket{Cert: missing}, notExist: true},
		{name: "malformed client keystore", client: &ClientSecureSocket{Key: &KeyStore{Path: garbage, Password: pw}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.server != nil {
				_, err = ServerConfig(tc.server, nil)
			} else {
				_, err = ClientConfig(tc.client, nil, "localhost")
			}
			ce := configError(t, err)
			if ce.Msg != msgInit || ce.Err == nil || !strings.HasPrefix(err.Error(), "Failed to initialize the SSL context: ") {
				t.Fatalf("got %q", err)
			}
			if tc.notExist != errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("errors.Is(%q, fs.ErrNotExist) = %v", err, !tc.notExist)
			}
		})
	}
}
