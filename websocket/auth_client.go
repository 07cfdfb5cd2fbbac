package websocket

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
)

// DefaultJWTIssuerExpiry is the lifetime of a JWTIssuer's tokens
// (Ballerina's expTime of 300 s).
const DefaultJWTIssuerExpiry = 5 * time.Minute

// JWTIssuer sends self-signed JWTs as bearer tokens (Ballerina's
// JwtIssuerConfig). A token is reused until a fifth of its lifetime is
// left, then a new one is issued, so redials always carry a valid token.
// Use one value (a pointer) per client.
type JWTIssuer struct {
	// Issuer, Subject and Audience are the iss, sub and aud claims (each
	// omitted when empty).
	Issuer   string
	Subject  string
	Audience []string
	// KeyID is the kid header, when set.
	KeyID string
	// Claims are extra claims (they cannot override iss, sub, aud, iat,
	// exp and jti).
	Claims map[string]any
	// Expiry is each token's lifetime. 0: 5 min.
	Expiry time.Duration
	// Key signs the tokens: an *rsa.PrivateKey (RS256), an
	// *ecdsa.PrivateKey (ES256, ES384 or ES512 by its curve), an
	// ed25519.PrivateKey (EdDSA) or a []byte HMAC secret (HS256).
	Key any

	mu  sync.Mutex
	tok string
	exp time.Time
	iat time.Time
}

// Authenticate sets the Authorization header with a current token.
func (j *JWTIssuer) Authenticate(_ context.Context, r *http.Request) error {
	tok, err := j.Token()
	if err != nil {
		return err
	}
	r.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

// Token returns the current token, issuing a new one when a fifth of its
// lifetime or less is left.
func (j *JWTIssuer) Token() (string, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := time.Now()
	if j.tok != "" && now.Before(j.exp.Add(-j.exp.Sub(j.iat)/5)) {
		return j.tok, nil
	}
	method, err := signingMethod(j.Key)
	if err != nil {
		return "", err
	}
	life := j.Expiry
	if life <= 0 {
		life = DefaultJWTIssuerExpiry
	}
	claims := jwt.MapClaims{}
	maps.Copy(claims, j.Claims)
	claims["iat"] = now.Unix()
	claims["exp"] = now.Add(life).Unix()
	claims["jti"] = fmt.Sprintf("%x", now.UnixNano())
	for k, v := range map[string]string{"iss": j.Issuer, "sub": j.Subject} {
		if v != "" {
			claims[k] = v
		} else {
			delete(claims, k)
		}
	}
	delete(claims, "aud")
	switch len(j.Audience) {
	case 0:
	case 1:
		claims["aud"] = j.Audience[0]
	default:
		claims["aud"] = j.Audience
	}
	t := jwt.NewWithClaims(method, claims)
	if j.KeyID != "" {
		t.Header["kid"] = j.KeyID
	}
	s, err := t.SignedString(j.Key)
	if err != nil {
		return "", fmt.Errorf("websocket: issuing a JWT: %w", err)
	}
	j.tok, j.iat, j.exp = s, now, now.Add(life)
	return s, nil
}

// signingMethod picks the algorithm for key.
func signingMethod(key any) (jwt.SigningMethod, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return jwt.SigningMethodRS256, nil
	case *ecdsa.PrivateKey:
		switch k.Curve.Params().BitSize {
		case 256:
			return jwt.SigningMethodES256, nil
		case 384:
			return jwt.SigningMethodES384, nil
		case 521:
			return jwt.SigningMethodES512, nil
		}
	case ed25519.PrivateKey:
		return jwt.SigningMethodEdDSA, nil
	case []byte:
		if len(k) > 0 {
			return jwt.SigningMethodHS256, nil
		}
	case crypto.Signer:
		return nil, errors.New("websocket: JWTIssuer.Key: use the *rsa, *ecdsa or ed25519 private key itself")
	}
	return nil, fmt.Errorf("websocket: JWTIssuer.Key: unsupported key %T", key)
}

// tokenCache holds one OAuth2 token, fetched again when it is no longer
// valid.
type tokenCache struct {
	mu  sync.Mutex
	tok *oauth2.Token
}

// authenticate sets r's Authorization from the cached token, or from
// fetch's when it is missing or expired. fetch gets the cached token (nil
// at first), to refresh it.
func (tc *tokenCache) authenticate(ctx context.Context, r *http.Request, hc *http.Client, fetch func(ctx context.Context, old *oauth2.Token) (*oauth2.Token, error)) error {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if !tc.tok.Valid() {
		if hc == nil {
			hc = http.DefaultClient
		}
		tok, err := fetch(context.WithValue(ctx, oauth2.HTTPClient, hc), tc.tok)
		if err != nil {
			return err
		}
		tc.tok = tok
	}
	tc.tok.SetAuthHeader(r)
	return nil
}

// oauth2Config returns the x/oauth2 configuration of a token endpoint.
func oauth2Config(tokenURL, id, secret string, scopes []string) *oauth2.Config {
	return &oauth2.Config{ClientID: id, ClientSecret: secret, Endpoint: oauth2.Endpoint{TokenURL: tokenURL}, Scopes: scopes}
}

// refreshOr refreshes old with its refresh token when it has one, else
// (or when the refresh fails) calls grant.
func refreshOr(ctx context.Context, cfg *oauth2.Config, old *oauth2.Token, grant func() (*oauth2.Token, error)) (*oauth2.Token, error) {
	if old != nil && old.RefreshToken != "" {
		if tok, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: old.RefreshToken}).Token(); err == nil {
			return tok, nil
		}
	}
	return grant()
}

// OAuth2Password fetches a token with the resource owner password grant
// (Ballerina's OAuth2PasswordGrantConfig), via golang.org/x/oauth2, and
// sends it as a bearer token; it is cached, and refreshed with its
// refresh token (or fetched again) when it expires. Use one value (a
// pointer) per client.
type OAuth2Password struct {
	TokenURL     string
	ClientID     string
	ClientSecret string
	Username     string
	Password     string
	Scopes       []string
	// HTTPClient makes the token requests. Nil: http.DefaultClient.
	HTTPClient *http.Client

	cache tokenCache
}

// Authenticate sets the Authorization header.
func (a *OAuth2Password) Authenticate(ctx context.Context, r *http.Request) error {
	return a.cache.authenticate(ctx, r, a.HTTPClient, func(ctx context.Context, old *oauth2.Token) (*oauth2.Token, error) {
		cfg := oauth2Config(a.TokenURL, a.ClientID, a.ClientSecret, a.Scopes)
		return refreshOr(ctx, cfg, old, func() (*oauth2.Token, error) {
			return cfg.PasswordCredentialsToken(ctx, a.Username, a.Password)
		})
	})
}

// OAuth2RefreshToken fetches access tokens with the refresh-token grant
// (Ballerina's OAuth2RefreshTokenGrantConfig), via golang.org/x/oauth2,
// keeping a rotated refresh token. Use one value (a pointer) per client.
type OAuth2RefreshToken struct {
	TokenURL     string
	ClientID     string
	ClientSecret string
	RefreshToken string
	Scopes       []string
	// HTTPClient makes the token requests. Nil: http.DefaultClient.
	HTTPClient *http.Client

	cache tokenCache
}

// Authenticate sets the Authorization header.
func (a *OAuth2RefreshToken) Authenticate(ctx context.Context, r *http.Request) error {
	return a.cache.authenticate(ctx, r, a.HTTPClient, func(ctx context.Context, old *oauth2.Token) (*oauth2.Token, error) {
		rt := a.RefreshToken
		if old != nil && old.RefreshToken != "" {
			rt = old.RefreshToken
		}
		return oauth2Config(a.TokenURL, a.ClientID, a.ClientSecret, a.Scopes).TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
	})
}

// jwtBearerGrant is the grant type of RFC 7523.
const jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// OAuth2JWTBearer fetches a token with the JWT bearer grant (RFC 7523;
// Ballerina's OAuth2JwtBearerGrantConfig): the assertion is Assertion, or a
// token of Issuer. golang.org/x/oauth2 has no such grant with a caller's
// assertion (its jwt package builds Google-style assertions), so the token
// request is made here: a form POST with the client credentials in HTTP
// Basic, bounded by DefaultAuthFetchTimeout. Use one value (a pointer) per
// client.
type OAuth2JWTBearer struct {
	TokenURL     string
	ClientID     string
	ClientSecret string
	// Assertion is the JWT to exchange; or Issuer makes one per request.
	Assertion string
	Issuer    *JWTIssuer
	Scopes    []string
	// HTTPClient makes the token requests. Nil: http.DefaultClient.
	HTTPClient *http.Client

	cache tokenCache
}

// Authenticate sets the Authorization header.
func (a *OAuth2JWTBearer) Authenticate(ctx context.Context, r *http.Request) error {
	return a.cache.authenticate(ctx, r, a.HTTPClient, func(ctx context.Context, _ *oauth2.Token) (*oauth2.Token, error) {
		assertion := a.Assertion
		if a.Issuer != nil {
			var err error
			if assertion, err = a.Issuer.Token(); err != nil {
				return nil, err
			}
		}
		if assertion == "" {
			return nil, errors.New("websocket: OAuth2JWTBearer needs an Assertion or an Issuer")
		}
		form := url.Values{"grant_type": {jwtBearerGrant}, "assertion": {assertion}}
		if len(a.Scopes) > 0 {
			form.Set("scope", strings.Join(a.Scopes, " "))
		}
		body, err := authFetch(ctx, a.HTTPClient, http.MethodPost, a.TokenURL, strings.NewReader(form.Encode()), func(req *http.Request) {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if a.ClientID != "" {
				req.SetBasicAuth(url.QueryEscape(a.ClientID), url.QueryEscape(a.ClientSecret))
			}
		})
		if err != nil {
			return nil, fmt.Errorf("websocket: jwt-bearer grant: %w", err)
		}
		var res struct {
			AccessToken  string `json:"access_token"`
			TokenType    string `json:"token_type"`
			RefreshToken string `json:"refresh_token"`
			ExpiresIn    int64  `json:"expires_in"`
		}
		if err := json.Unmarshal(body, &res); err != nil || res.AccessToken == "" {
			return nil, fmt.Errorf("websocket: jwt-bearer grant: no access_token in the response")
		}
		tok := &oauth2.Token{AccessToken: res.AccessToken, TokenType: res.TokenType, RefreshToken: res.RefreshToken}
		if res.ExpiresIn > 0 {
			tok.Expiry = time.Now().Add(time.Duration(res.ExpiresIn) * time.Second)
		}
		return tok, nil
	})
}
