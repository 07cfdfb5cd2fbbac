package tlsconf

import "testing"

// FuzzDecryptPKCS8 feeds arbitrary DER to the encrypted PKCS#8 decoder: it
// must return an error or a parseable key, never panic.
func FuzzDecryptPKCS8(f *testing.F) {
	f.Fuzz(func(t *testing.T, der []byte, password string) {
		key, err := decryptPKCS8(der, password)
		if err == nil && len(key) == 0 {
			t.Fatal("no error and no key")
		}
	})
}

// FuzzParseVersion checks that version names never panic and that accepted
// names map to a TLS version.
func FuzzParseVersion(f *testing.F) {
	f.Fuzz(func(t *testing.T, name string) {
		v, err := parseVersion(name)
		if err == nil && (v < 0x0301 || v > 0x0304) {
			t.Fatalf("parseVersion(%q) = %x", name, v)
		}
	})
}
