package websocket

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// DefaultIntrospectionCacheSize bounds the results an OAuth2Introspection
// keeps.
const DefaultIntrospectionCacheSize = 1000

// OAuth2Introspection authenticates bearer tokens with an OAuth2 token
// introspection endpoint (RFC 7662; Ballerina's
// OAuth2IntrospectionConfigWithScopes). Each token is POSTed as a form
// with HTTP Basic client credentials; an active result is cached for
// CacheTTL, never beyond the token's exp. Use one value (a pointer) per
// configuration: it holds the cache.
type OAuth2Introspection struct {
	// URL is the introspection endpoint.
	URL string
	// ClientID and ClientSecret authenticate this server to the endpoint
	// (HTTP Basic); empty: no client authentication.
	ClientID     string
	ClientSecret string
	// TokenTypeHint is sent as token_type_hint when set.
	TokenTypeHint string
	// ScopeKey is the response field holding the scopes. Default "scope".
	ScopeKey string
	// Scopes, when set, are required: the token must carry one (else 403).
	Scopes []string
	// CacheTTL is how long an active result is reused. 0: 5 min;
	// negative: no cache.
	CacheTTL time.Duration
	// MaxCacheSize bounds the cached results. 0: 1000.
	MaxCacheSize int
	// HTTPClient makes the requests, each bounded by
	// DefaultAuthFetchTimeout. Nil: http.DefaultClient.
	HTTPClient *http.Client

	mu    sync.Mutex
	cache map[[32]byte]introspected
}

type introspected struct {
	p     *Principal
	until time.Time
}

// Authenticate introspects r's bearer token.
func (o *OAuth2Introspection) Authenticate(ctx context.Context, r *http.Request) (*Principal, error) {
	tok := bearerToken(r)
	if tok == "" {
		return nil, errNoCredentials
	}
	key := sha256.Sum256([]byte(tok)) // the cache keeps no tokens
	now := time.Now()
	o.mu.Lock()
	hit, ok := o.cache[key]
	o.mu.Unlock()
	if ok && now.Before(hit.until) {
		return checkScopes(hit.p, o.Scopes)
	}
	p, exp, err := o.introspect(ctx, tok)
	if err != nil {
		return nil, err
	}
	if ttl := o.ttl(); ttl > 0 {
		until := now.Add(ttl)
		if !exp.IsZero() && exp.Before(until) {
			until = exp
		}
		if now.Before(until) {
			o.store(key, introspected{p, until}, now)
		}
	}
	return checkScopes(p, o.Scopes)
}

func (o *OAuth2Introspection) ttl() time.Duration {
	if o.CacheTTL == 0 {
		return DefaultIntrospectionCacheTTL
	}
	return o.CacheTTL
}

// store caches e, dropping expired entries (and, if still full, any one)
// when the cache is at its bound.
func (o *OAuth2Introspection) store(key [32]byte, e introspected, now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	max := o.MaxCacheSize
	if max <= 0 {
		max = DefaultIntrospectionCacheSize
	}
	if o.cache == nil {
		o.cache = make(map[[32]byte]introspected)
	}
	if len(o.cache) >= max {
		for k, v := range o.cache {
			if !now.Before(v.until) {
				delete(o.cache, k)
			}
		}
		for k := range o.cache {
			if len(o.cache) < max {
				break
			}
			delete(o.cache, k)
		}
	}
	o.cache[key] = e
}

// introspect asks the endpoint about tok.
func (o *OAuth2Introspection) introspect(ctx context.Context, tok string) (*Principal, time.Time, error) {
	form := url.Values{"token": {tok}}
	if o.TokenTypeHint != "" {
		form.Set("token_type_hint", o.TokenTypeHint)
	}
	body, err := authFetch(ctx, o.HTTPClient, http.MethodPost, o.URL, strings.NewReader(form.Encode()), func(req *http.Request) {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		if o.ClientID != "" {
			req.SetBasicAuth(url.QueryEscape(o.ClientID), url.QueryEscape(o.ClientSecret))
		}
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("websocket: introspection: %w", err)
	}
	var res map[string]any
	if err := json.Unmarshal(body, &res); err != nil {
		return nil, time.Time{}, fmt.Errorf("websocket: introspection: %w", err)
	}
	if active, _ := res["active"].(bool); !active {
		return nil, time.Time{}, errors.New("websocket: introspection: token is not active")
	}
	var exp time.Time
	if e, ok := res["exp"].(float64); ok {
		exp = time.Unix(int64(e), 0)
	}
	name, _ := res["username"].(string)
	if name == "" {
		name, _ = res["sub"].(string)
	}
	key := o.ScopeKey
	if key == "" {
		key = "scope"
	}
	return &Principal{Name: name, Scopes: scopeList(res[key]), Claims: res}, exp, nil
}
