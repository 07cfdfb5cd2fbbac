package tlsconf

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/ecdsa"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"hash"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netkit-go/netkit/netkittest"
)

// pbes2Scheme describes one PBES2 combination for encryptPKCS8.
type pbes2Scheme struct {
	name      string
	prf       asn1.ObjectIdentifier // nil: the DEFAULT hmacWithSHA1, omitted
	prfHash   func() hash.Hash
	enc       asn1.ObjectIdentifier
	keyLen    int
	newCipher func([]byte) (cipher.Block, error)
}

var pbes2Schemes = []pbes2Scheme{
	{"sha256-aes256", asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}, nil, oidAES256CBC, 32, aes.NewCipher},
	{"sha1default-aes128", nil, sha1.New, oidAES128CBC, 16, aes.NewCipher},
	{"sha512-aes192", asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}, sha512.New, oidAES192CBC, 24, aes.NewCipher},
	{"sha1-3des", oidHMACSHA1, sha1.New, oidDESEDE3, 24, des.NewTripleDESCipher},
}

// encryptPKCS8 is an independent PBES2 encoder for the tests (the openssl
// test below checks the decoder against a third implementation).
func encryptPKCS8(t testing.TB, plain []byte, password string, s pbes2Scheme) []byte {
	t.Helper()
	prfHash := s.prfHash
	if prfHash == nil {
		prfHash = func() hash.Hash { h, _ := pbkdf2PRF(s.prf); return h() }
	}
	salt := make([]byte, 16)
	rand.Read(salt)
	key, err := pbkdf2.Key(prfHash, password, salt, 2048, s.keyLen)
	if err != nil {
		t.Fatal(err)
	}
	block, err := s.newCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	iv := make([]byte, block.BlockSize())
	rand.Read(iv)
	n := block.BlockSize() - len(plain)%block.BlockSize()
	padded := append(append([]byte(nil), plain...), strings.Repeat(string(rune(n)), n)...)
	ct := make([]byte, len(padded))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, padded)

	kdf := pbkdf2Params{Salt: salt, IterationCount: 2048}
	if s.prf != nil {
		kdf.PRF = pkix.AlgorithmIdentifier{Algorithm: s.prf, Parameters: asn1.NullRawValue}
	}
	mustMarshal := func(v any) []byte {
		b, err := asn1.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	params := pbes2Params{
		KeyDerivationFunc: pkix.AlgorithmIdentifier{Algorithm: oidPBKDF2, Parameters: asn1.RawValue{FullBytes: mustMarshal(kdf)}},
		EncryptionScheme:  pkix.AlgorithmIdentifier{Algorithm: s.enc, Parameters: asn1.RawValue{FullBytes: mustMarshal(iv)}},
	}
	return mustMarshal(encryptedPrivateKeyInfo{
		Algorithm:     pkix.AlgorithmIdentifier{Algorithm: oidPBES2, Parameters: asn1.RawValue{FullBytes: mustMarshal(params)}},
		EncryptedData: ct,
	})
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func serverPKCS8(t *testing.T, c *netkittest.Certificates) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.Server.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// checkKeyFile builds a listener from the server certificate and keyFile and
// connects to it.
func checkKeyFile(t *testing.T, c *netkittest.Certificates, keyFile, password string) {
	t.Helper()
	srv := serverCfg(t, &ListenerSecureSocket{CertKey: &CertKey{CertFile: c.ServerCert, KeyFile: keyFile, KeyPassword: password}}, nil)
	mustConnect(t, srv, clientCfg(t, &ClientSecureSocket{Cert: c.CACert}, nil, "localhost"))

	for _, pw := range []string{"", "wrong password"} {
		_, err := ServerConfig(&ListenerSecureSocket{CertKey: &CertKey{CertFile: c.ServerCert, KeyFile: keyFile, KeyPassword: pw}}, nil)
		if ce := configError(t, err); ce.Msg != msgInit {
			t.Fatalf("password %q: got %q", pw, err)
		}
	}
}

func TestEncryptedPKCS8Key(t *testing.T) {
	c := netkittest.NewCertificates(t)
	der := serverPKCS8(t, c)
	for _, s := range pbes2Schemes {
		t.Run(s.name, func(t *testing.T) {
			enc := encryptPKCS8(t, der, "s3cret", s)
			got, err := decryptPKCS8(enc, "s3cret")
			if err != nil || string(got) != string(der) {
				t.Fatalf("decryptPKCS8: %v", err)
			}
			keyFile := writeFile(t, "key.pem", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: enc}))
			checkKeyFile(t, c, keyFile, "s3cret")
		})
	}
}

func TestLegacyEncryptedKey(t *testing.T) {
	c := netkittest.NewCertificates(t)
	der, err := x509.MarshalECPrivateKey(c.Server.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	block, err := x509.EncryptPEMBlock(rand.Reader, "EC PRIVATE KEY", der, []byte("s3cret"), x509.PEMCipherAES256) //nolint:staticcheck // legacy format under test
	if err != nil {
		t.Fatal(err)
	}
	checkKeyFile(t, c, writeFile(t, "key.pem", pem.EncodeToMemory(block)), "s3cret")
}

// An unencrypted key is accepted whatever KeyPassword says.
func TestUnencryptedKeyWithPassword(t *testing.T) {
	c := netkittest.NewCertificates(t)
	srv := serverCfg(t, &ListenerSecureSocket{CertKey: &CertKey{CertFile: c.ServerCert, KeyFile: c.ServerKey, KeyPassword: "unused"}}, nil)
	mustConnect(t, srv, clientCfg(t, &ClientSecureSocket{Cert: c.CACert}, nil, "localhost"))
}

// TestOpenSSLEncryptedKey decrypts keys encrypted by openssl.
func TestOpenSSLEncryptedKey(t *testing.T) {
	openssl := netkittest.RequireTool(t, "openssl")
	c := netkittest.NewCertificates(t)
	for _, args := range [][]string{
		nil, // OpenSSL 3 default: PBES2, hmacWithSHA256, AES-256-CBC
		{"-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA1"},
		{"-v2", "des3"},
		{"-v2", "aes-192-cbc", "-v2prf", "hmacWithSHA512", "-iter", "10000"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "key.pem")
			cmd := exec.Command(openssl, append([]string{"pkcs8", "-topk8", "-in", c.ServerKey, "-out", out, "-passout", "pass:s3cret"}, args...)...)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("openssl: %v\n%s", err, b)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(data), "ENCRYPTED PRIVATE KEY") {
				t.Fatalf("openssl wrote no encrypted key:\n%s", data)
			}
			checkKeyFile(t, c, out, "s3cret")
		})
	}
}

func TestDecryptPKCS8Unsupported(t *testing.T) {
	c := netkittest.NewCertificates(t)
	der := serverPKCS8(t, c)
	// PBES1 (here pbeWithSHAAnd3-KeyTripleDES-CBC) is refused with a message.
	pbes1, err := asn1.Marshal(encryptedPrivateKeyInfo{
		Algorithm:     pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}},
		EncryptedData: []byte("0123456789abcdef"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decryptPKCS8(pbes1, "pw"); err == nil || !strings.Contains(err.Error(), "PBES2") {
		t.Fatalf("PBES1: %v", err)
	}
	// Truncations of a valid structure fail without panicking.
	enc := encryptPKCS8(t, der, "pw", pbes2Schemes[0])
	for i := 0; i < len(enc); i += 7 {
		if _, err := decryptPKCS8(enc[:i], "pw"); err == nil {
			t.Fatalf("truncated to %d bytes: no error", i)
		}
	}
}
