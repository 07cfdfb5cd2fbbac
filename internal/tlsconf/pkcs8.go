package tlsconf

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
)

// Encrypted PKCS#8 private keys (RFC 5208 EncryptedPrivateKeyInfo) with
// PBES2 (RFC 8018): PBKDF2 with HMAC-SHA-1/224/256/384/512 and AES-CBC or
// DES-EDE3-CBC. This is what `openssl pkcs8 -topk8`, `openssl genpkey -aes256`
// and Java produce, and what Netty expects with a key password.

var (
	oidPBES2     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACSHA1  = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACSHA2  = asn1.ObjectIdentifier{1, 2, 840, 113549, 2} // + 8..11
	oidAES128CBC = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidDESEDE3   = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
)

type encryptedPrivateKeyInfo struct {
	Algorithm     pkix.AlgorithmIdentifier
	EncryptedData []byte
}

type pbes2Params struct {
	KeyDerivationFunc pkix.AlgorithmIdentifier
	EncryptionScheme  pkix.AlgorithmIdentifier
}

type pbkdf2Params struct {
	Salt           []byte
	IterationCount int
	KeyLength      int                      `asn1:"optional"`
	PRF            pkix.AlgorithmIdentifier `asn1:"optional"`
}

// maxPBKDF2Iterations bounds the work a hostile file can ask for.
const maxPBKDF2Iterations = 10_000_000

// decryptPKCS8 decrypts an EncryptedPrivateKeyInfo and returns the PKCS#8
// PrivateKeyInfo DER, checked to parse.
func decryptPKCS8(der []byte, password string) ([]byte, error) {
	var info encryptedPrivateKeyInfo
	if rest, err := asn1.Unmarshal(der, &info); err != nil {
		return nil, fmt.Errorf("parse encrypted PKCS#8 key: %w", err)
	} else if len(rest) != 0 {
		return nil, errors.New("parse encrypted PKCS#8 key: trailing data")
	}
	if !info.Algorithm.Algorithm.Equal(oidPBES2) {
		return nil, fmt.Errorf("unsupported PKCS#8 key encryption %v (only PBES2 is supported)", info.Algorithm.Algorithm)
	}
	var params pbes2Params
	if _, err := asn1.Unmarshal(info.Algorithm.Parameters.FullBytes, &params); err != nil {
		return nil, fmt.Errorf("parse PBES2 parameters: %w", err)
	}
	if !params.KeyDerivationFunc.Algorithm.Equal(oidPBKDF2) {
		return nil, fmt.Errorf("unsupported PBES2 key derivation %v", params.KeyDerivationFunc.Algorithm)
	}
	var kdf pbkdf2Params
	if _, err := asn1.Unmarshal(params.KeyDerivationFunc.Parameters.FullBytes, &kdf); err != nil {
		return nil, fmt.Errorf("parse PBKDF2 parameters: %w", err)
	}
	if kdf.IterationCount < 1 || kdf.IterationCount > maxPBKDF2Iterations {
		return nil, fmt.Errorf("unsupported PBKDF2 iteration count %d", kdf.IterationCount)
	}
	prf, err := pbkdf2PRF(kdf.PRF.Algorithm)
	if err != nil {
		return nil, err
	}

	var newCipher func([]byte) (cipher.Block, error)
	keyLen := 0
	switch alg := params.EncryptionScheme.Algorithm; {
	case alg.Equal(oidAES128CBC):
		newCipher, keyLen = aes.NewCipher, 16
	case alg.Equal(oidAES192CBC):
		newCipher, keyLen = aes.NewCipher, 24
	case alg.Equal(oidAES256CBC):
		newCipher, keyLen = aes.NewCipher, 32
	case alg.Equal(oidDESEDE3):
		newCipher, keyLen = des.NewTripleDESCipher, 24
	default:
		return nil, fmt.Errorf("unsupported PBES2 encryption scheme %v", alg)
	}
	if kdf.KeyLength != 0 && kdf.KeyLength != keyLen {
		return nil, fmt.Errorf("PBKDF2 key length %d does not fit the cipher", kdf.KeyLength)
	}
	var iv []byte
	if _, err := asn1.Unmarshal(params.EncryptionScheme.Parameters.FullBytes, &iv); err != nil {
		return nil, fmt.Errorf("parse cipher IV: %w", err)
	}

	key, err := pbkdf2.Key(prf, password, kdf.Salt, kdf.IterationCount, keyLen)
	if err != nil {
		return nil, err
	}
	block, err := newCipher(key)
	if err != nil {
		return nil, err
	}
	bs := block.BlockSize()
	data := info.EncryptedData
	if len(iv) != bs || len(data) == 0 || len(data)%bs != 0 {
		return nil, errors.New("malformed encrypted PKCS#8 key")
	}
	plain := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, data)
	plain, ok := unpad(plain, bs)
	if !ok {
		return nil, errors.New("decrypt PKCS#8 key: wrong KeyPassword")
	}
	if _, err := x509.ParsePKCS8PrivateKey(plain); err != nil {
		return nil, fmt.Errorf("decrypt PKCS#8 key: wrong KeyPassword or corrupt key: %w", err)
	}
	return plain, nil
}

func pbkdf2PRF(oid asn1.ObjectIdentifier) (func() hash.Hash, error) {
	if len(oid) == 0 || oid.Equal(oidHMACSHA1) { // DEFAULT hmacWithSHA1
		return sha1.New, nil
	}
	if len(oid) == len(oidHMACSHA2)+1 && oid[:len(oidHMACSHA2)].Equal(oidHMACSHA2) {
		switch oid[len(oid)-1] {
		case 8:
			return sha256.New224, nil
		case 9:
			return sha256.New, nil
		case 10:
			return sha512.New384, nil
		case 11:
			return sha512.New, nil
		}
	}
	return nil, fmt.Errorf("unsupported PBKDF2 pseudo-random function %v", oid)
}

// unpad removes PKCS#7 padding; ok is false when it is malformed.
func unpad(b []byte, bs int) ([]byte, bool) {
	n := int(b[len(b)-1])
	if n == 0 || n > bs {
		return nil, false
	}
	pad := b[len(b)-n:]
	want := make([]byte, n)
	for i := range want {
		want[i] = byte(n)
	}
	if subtle.ConstantTimeCompare(pad, want) != 1 {
		return nil, false
	}
	return b[:len(b)-n], true
}
