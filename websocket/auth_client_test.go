package websocket_test

import (
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/netkit-go/netkit/websocket"
)

// tokenEndpoint is a test OAuth2 token endpoint for the password,
// refresh-token and jwt-bearer grants; each token it issues names its
// grant and lives expiresIn seconds.
type tokenEndpoint struct {
	*httptest.Server
	n         atomic.Int32
	expiresIn int
}

func newTokenEndpoint(t *testing.T, assertionKey *ecdsa.PublicKey) *tokenEndpoint {
	te := &tokenEndpoint{expiresIn: 3600}
	te.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := te.n.Add(1)
		r.ParseForm()
		id, secret, _ := r.BasicAuth()
		if id == "" {
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		if id != "cid" || secret != "csecret" {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		f := r.PostForm
		ok := false
		switch f.Get("grant_type") {
		case "password":
			ok = f.Get("username") == "gina" && f.Get("password") == "gina-pw"
		case "refresh_token":
			ok = f.Get("refresh_token") == "rt-1" || f.Get("refresh_token") == "rt-2"
		case "urn:ietf:params:oauth:grant-type:jwt-bearer":
			_, err := jwt.Parse(f.Get("assertion"), func(*jwt.Token) (any, error) { return assertionKey, nil },
				jwt.WithIssuer("client-app"), jwt.WithAudience(te.URL), jwt.WithExpirationRequired())
			ok = err == nil
		}
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"access_token": f.Get("grant_type") + "-" + string(rune('0'+n)), "token_type": "Bearer",
			"expires_in": te.expiresIn, "refresh_token": "rt-2",
		})
	}))
	t.Cleanup(te.Close)
	return te
}

// bearerServer serves /t and reports each upgrade's Authorization header.
func bearerServer(t *testing.T) (string, chan string) {
	got := make(chan string, 8)
	up := websocket.UpgradeFunc(func(r *http.Request, _ http.Header) (websocket.Service, error) {
		got <- r.Header.Get("Authorization")
		return websocket.Echo, nil
	})
	return clServe(t, "/t", up, nil), got
}

// TestClientOAuth2Grants: the password, refresh-token and jwt-bearer
// grants get a token from the endpoint and send it; a cached token is
// reused; a refused grant fails Dial with an ErrAuth error.
func TestClientOAuth2Grants(t *testing.T) {
	k := newJWTKeys(t)
	te := newTokenEndpoint(t, &k.key.PublicKey)
	url, got := bearerServer(t)
	for _, tc := range []struct {
		name string
		auth websocket.Authenticator
		want string
	}{
		{"password", &websocket.OAuth2Password{TokenURL: te.URL, ClientID: "cid", ClientSecret: "csecret", Username: "gina", Password: "gina-pw", Scopes: []string{"chat"}}, "Bearer password-"},
		{"refresh", &websocket.OAuth2RefreshToken{TokenURL: te.URL, ClientID: "cid", ClientSecret: "csecret", RefreshToken: "rt-1"}, "Bearer refresh_token-"},
		{"jwt-bearer", &websocket.OAuth2JWTBearer{TokenURL: te.URL, ClientID: "cid", ClientSecret: "csecret",
			Issuer: &websocket.JWTIssuer{Issuer: "client-app", Audience: []string{te.URL}, Key: k.key}}, "Bearer urn:ietf:params:oauth:grant-type:jwt-bearer-"},
	} {
		before := te.n.Load()
		for range 2 {
			c := clDial(t, url, &websocket.ClientConfig{Auth: tc.auth})
			c.Close(testCtx(t), 1000, "")
			h := recv(t, got)
			if len(h) <= len(tc.want) || h[:len(tc.want)] != tc.want {
				t.Errorf("%s: Authorization %q, want %q…", tc.name, h, tc.want)
			}
		}
		if n := te.n.Load() - before; n != 1 {
			t.Errorf("%s: %d token requests for two dials, want 1", tc.name, n)
		}
	}
	for name, auth := range map[string]websocket.Authenticator{
		"password":   &websocket.OAuth2Password{TokenURL: te.URL, ClientID: "cid", ClientSecret: "csecret", Username: "gina", Password: "wrong"},
		"refresh":    &websocket.OAuth2RefreshToken{TokenURL: te.URL, ClientID: "cid", ClientSecret: "csecret", RefreshToken: "stale"},
		"jwt-bearer": &websocket.OAuth2JWTBearer{TokenURL: te.URL, ClientID: "cid", ClientSecret: "csecret", Issuer: &websocket.JWTIssuer{Issuer: "mallory", Key: k.key}},
		"client":     &websocket.OAuth2Password{TokenURL: te.URL, ClientID: "cid", ClientSecret: "bad", Username: "gina", Password: "gina-pw"},
	} {
		_, err := websocket.Dial(testCtx(t), url, &websocket.ClientConfig{Auth: auth})
		if !errors.Is(err, websocket.ErrAuth) {
			t.Errorf("%s refused: %v, want an ErrAuth error", name, err)
		}
	}

	// An expired password-grant token is refreshed with its refresh token.
	te.expiresIn = 1 // x/oauth2 treats tokens expiring within 10 s as expired
	pw := &websocket.OAuth2Password{TokenURL: te.URL, ClientID: "cid", ClientSecret: "csecret", Username: "gina", Password: "gina-pw"}
	for _, want := range []string{"Bearer password-", "Bearer refresh_token-"} {
		c := clDial(t, url, &websocket.ClientConfig{Auth: pw})
		c.Close(testCtx(t), 1000, "")
		if h := recv(t, got); len(h) < len(want) || h[:len(want)] != want {
			t.Errorf("Authorization %q, want %q…", h, want)
		}
	}
}

// TestJWTIssuer: the issued token carries the claims, verifies with the
// key, is reused, and is issued again when a fifth of its life is left.
func TestJWTIssuer(t *testing.T) {
	k := newJWTKeys(t)
	synctest.Test(t, func(t *testing.T) {
		j := &websocket.JWTIssuer{Issuer: "me", Subject: "svc", Audience: []string{"ws"}, KeyID: "k1",
			Claims: map[string]any{"scope": "chat", "exp": 1}, Expiry: 100 * time.Second, Key: k.key}
		t1, err := j.Token()
		if err != nil {
			t.Fatal(err)
		}
		claims := jwt.MapClaims{}
		tok, err := jwt.ParseWithClaims(t1, claims, func(*jwt.Token) (any, error) { return &k.key.PublicKey, nil },
			jwt.WithIssuer("me"), jwt.WithAudience("ws"), jwt.WithSubject("svc"), jwt.WithExpirationRequired())
		if err != nil || tok.Header["kid"] != "k1" || claims["scope"] != "chat" {
			t.Fatalf("%v %v %v", err, tok.Header, claims)
		}
		if exp, _ := claims.GetExpirationTime(); exp.Unix() != time.Now().Add(100*time.Second).Unix() {
			t.Fatalf("exp %v", exp)
		}
		time.Sleep(79 * time.Second)
		if t2, _ := j.Token(); t2 != t1 {
			t.Fatal("reissued with more than a fifth of its life left")
		}
		time.Sleep(2 * time.Second)
		if t3, _ := j.Token(); t3 == t1 {
			t.Fatal("not reissued with less than a fifth of its life left")
		}
		if _, err := (&websocket.JWTIssuer{Key: "not a key"}).Token(); err == nil {
			t.Fatal("a string key was accepted")
		}
	})
}
