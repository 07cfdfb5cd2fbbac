package websocket

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Defaults of the listener auth providers.
const (
	// DefaultJWKSCacheTTL is how long a JWTValidator keeps a fetched JWKS.
	DefaultJWKSCacheTTL = time.Hour
	// DefaultIntrospectionCacheTTL is how long an OAuth2Introspection keeps
	// an active result (never beyond the token's exp).
	DefaultIntrospectionCacheTTL = 5 * time.Minute
	// DefaultAuthFetchTimeout bounds each JWKS or introspection request.
	DefaultAuthFetchTimeout = 10 * time.Second
	// jwksRefetchAfter is the least time between two JWKS fetches caused
	// by an unknown key id (a key rotation), so that forged kids cannot
	// make the validator hammer the JWKS endpoint.
	jwksRefetchAfter = 10 * time.Second
)

// JWTValidator authenticates bearer JWTs (Ballerina's
// JwtValidatorConfigWithScopes), with github.com/golang-jwt/jwt/v5. The
// signature is verified with PublicKey, the PEM file CertFile (a
// certificate or a public key), or the keys of the JWKS at JWKSURL (cached
// for JWKSCacheTTL, fetched again when a token names an unknown key id).
// Only asymmetric algorithms are accepted (RS*, PS*, ES*, EdDSA). Use one
// value (a pointer) per configuration: it holds the caches.
type JWTValidator struct {
	// Issuer, when set, must equal the token's iss.
	Issuer string
	// Audience, when set, must contain one of the token's aud values.
	Audience []string
	// ClockSkew is tolerated on exp, nbf and iat. Default 0.
	ClockSkew time.Duration
	// PublicKey verifies signatures (*rsa.PublicKey, *ecdsa.PublicKey or
	// ed25519.PublicKey).
	PublicKey crypto.PublicKey
	// CertFile is a PEM file holding a certificate or a public key, read
	// at the first request, used when PublicKey is nil.
	CertFile string
	// JWKSURL is a JWK Set URL, used when PublicKey and CertFile are not
	// set. Each fetch is bounded by DefaultAuthFetchTimeout.
	JWKSURL string
	// JWKSCacheTTL is how long a fetched JWKS is used. 0: 1 h.
	JWKSCacheTTL time.Duration
	// HTTPClient fetches the JWKS. Nil: http.DefaultClient.
	HTTPClient *http.Client
	// ScopeKey is the claim holding the scopes (a space-separated string
	// or a list). Default "scope".
	ScopeKey string
	// Scopes, when set, are required: the token must carry one (else 403).
	Scopes []string

	mu        sync.Mutex
	fileKey   crypto.PublicKey
	jwks      map[string]crypto.PublicKey
	jwksUntil time.Time
	jwksAt    time.Time
}

var jwtMethods = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Authenticate validates r's bearer token.
func (v *JWTValidator) Authenticate(ctx context.Context, r *http.Request) (*Principal, error) {
	tok := bearerToken(r)
	if tok == "" {
		return nil, errNoCredentials
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods(jwtMethods), jwt.WithLeeway(v.ClockSkew), jwt.WithExpirationRequired()}
	if v.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(v.Issuer))
	}
	if len(v.Audience) > 0 {
		opts = append(opts, jwt.WithAudience(v.Audience...))
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		return v.key(ctx, kid)
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("websocket: invalid JWT: %w", err)
	}
	key := v.ScopeKey
	if key == "" {
		key = "scope"
	}
	sub, _ := claims.GetSubject()
	return checkScopes(&Principal{Name: sub, Scopes: scopeList(claims[key]), Claims: claims}, v.Scopes)
}

// key returns the verification key for kid.
func (v *JWTValidator) key(ctx context.Context, kid string) (crypto.PublicKey, error) {
	if v.PublicKey != nil {
		return v.PublicKey, nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.CertFile != "" {
		if v.fileKey == nil {
			k, err := readPublicKey(v.CertFile)
			if err != nil {
				return nil, err
			}
			v.fileKey = k
		}
		return v.fileKey, nil
	}
	if v.JWKSURL == "" {
		return nil, errors.New("websocket: JWTValidator has no PublicKey, CertFile or JWKSURL")
	}
	now := time.Now()
	k, ok := v.jwks[kid]
	if ok && now.Before(v.jwksUntil) {
		return k, nil
	}
	if !now.Before(v.jwksUntil) || now.Sub(v.jwksAt) >= jwksRefetchAfter {
		keys, err := fetchJWKS(ctx, v.HTTPClient, v.JWKSURL)
		if err != nil {
			if ok {
				return k, nil // keep using the key we have
			}
			return nil, err
		}
		ttl := v.JWKSCacheTTL
		if ttl <= 0 {
			ttl = DefaultJWKSCacheTTL
		}
		v.jwks, v.jwksAt, v.jwksUntil = keys, now, now.Add(ttl)
	}
	if k, ok := v.jwks[kid]; ok {
		return k, nil
	}
	if kid == "" && len(v.jwks) == 1 { // a token without kid, a JWKS of one key
		for _, k := range v.jwks {
			return k, nil
		}
	}
	return nil, fmt.Errorf("websocket: no JWKS key with kid %q", kid)
}

// readPublicKey reads a PEM certificate or public key.
func readPublicKey(path string) (crypto.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("websocket: JWT key: %w", err)
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("websocket: JWT key: no certificate or public key in %s", path)
		}
		switch blk.Type {
		case "CERTIFICATE":
			cert, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("websocket: JWT key: %w", err)
			}
			return cert.PublicKey, nil
		case "PUBLIC KEY":
			k, err := x509.ParsePKIXPublicKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("websocket: JWT key: %w", err)
			}
			return k, nil
		case "RSA PUBLIC KEY":
			k, err := x509.ParsePKCS1PublicKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("websocket: JWT key: %w", err)
			}
			return k, nil
		}
	}
}

// jwk is one key of a JWK Set (RFC 7517): RSA, EC and OKP (Ed25519).
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// fetchJWKS gets and parses a JWK Set; keys it cannot use are skipped.
func fetchJWKS(ctx context.Context, hc *http.Client, url string) (map[string]crypto.PublicKey, error) {
	body, err := authFetch(ctx, hc, http.MethodGet, url, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("websocket: JWKS: %w", err)
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("websocket: JWKS: %w", err)
	}
	keys := make(map[string]crypto.PublicKey, len(set.Keys))
	for _, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if pk, err := k.publicKey(); err == nil {
			keys[k.Kid] = pk
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("websocket: JWKS: no usable signing key")
	}
	return keys, nil
}

func b64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

// publicKey decodes k.
func (k jwk) publicKey() (crypto.PublicKey, error) {
	switch k.Kty {
	case "RSA":
		n, err1 := b64(k.N)
		e, err2 := b64(k.E)
		if err1 != nil || err2 != nil || len(e) > 4 {
			return nil, errors.New("bad RSA key")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}, nil
	case "EC":
		var curve elliptic.Curve
		switch k.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil, errors.New("unknown curve")
		}
		x, err1 := b64(k.X)
		y, err2 := b64(k.Y)
		if err1 != nil || err2 != nil {
			return nil, errors.New("bad EC key")
		}
		// The uncompressed point, parsed (and checked on the curve) by
		// ecdsa.ParseUncompressedPublicKey.
		size := (curve.Params().BitSize + 7) / 8
		if len(x) > size || len(y) > size {
			return nil, errors.New("bad EC key")
		}
		pt := make([]byte, 1+2*size)
		pt[0] = 4
		copy(pt[1+size-len(x):], x)
		copy(pt[1+2*size-len(y):], y)
		return ecdsa.ParseUncompressedPublicKey(curve, pt)
	case "OKP":
		x, err := b64(k.X)
		if k.Crv != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize {
			return nil, errors.New("bad OKP key")
		}
		return ed25519.PublicKey(x), nil
	}
	return nil, errors.New("unknown key type")
}

// authFetch makes one bounded request of a listener auth provider and
// returns the body of a 200 response (at most 1 MiB).
func authFetch(ctx context.Context, hc *http.Client, method, url string, body io.Reader, prep func(*http.Request)) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, DefaultAuthFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, err
	}
	if prep != nil {
		prep(req)
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return b, nil
}
