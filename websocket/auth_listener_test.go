package websocket_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/netkit-go/netkit/websocket"
)

// authServer serves /auth with providers; each upgrade reports the
// Principal of the request's context and of the Conn (in OnOpen).
type authServer struct {
	url   string
	fromR chan *websocket.Principal
	fromC chan *websocket.Principal
}

func serveAuth(t *testing.T, providers ...websocket.ListenerAuth) *authServer {
	t.Helper()
	a := &authServer{fromR: make(chan *websocket.Principal, 8), fromC: make(chan *websocket.Principal, 8)}
	svc := &websocket.ServiceFuncs{OnOpen: func(c *websocket.Conn) error { a.fromC <- c.Principal(); return nil }}
	up := websocket.UpgradeFunc(func(r *http.Request, _ http.Header) (websocket.Service, error) {
		a.fromR <- websocket.PrincipalFrom(r.Context())
		return svc, nil
	})
	a.url = clServe(t, "/auth", up, &websocket.ServiceConfig{Auth: providers})
	return a
}

// status dials with auth and returns the handshake status (101 when it
// succeeded) and, when it did, the Principal seen by Upgrade and OnOpen.
func (a *authServer) status(t *testing.T, auth websocket.Authenticator) (int, *websocket.Principal) {
	t.Helper()
	c, err := websocket.Dial(testCtx(t), a.url, &websocket.ClientConfig{Auth: auth})
	if err != nil {
		var he *websocket.InvalidHandshakeError
		if !errors.As(err, &he) {
			t.Fatalf("dial: %v", err)
		}
		return he.Status, nil
	}
	defer c.Close(testCtx(t), 1000, "")
	p, pc := recv(t, a.fromR), recv(t, a.fromC)
	if p != pc {
		t.Fatalf("Principal: request %+v, conn %+v", p, pc)
	}
	return http.StatusSwitchingProtocols, p
}

func writeUsers(t *testing.T) string {
	t.Helper()
	hash := func(pw string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	path := filepath.Join(t.TempDir(), "users")
	data := "# name:hash:scopes\nalice:" + hash("alice-pw") + ":read,write\n\nbob:" + hash("bob-pw") + "\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestFileUserStoreAuth: Basic credentials against the users file: the
// right password passes (with the Principal on the request and the Conn),
// a wrong one or none gets 401, missing scopes 403.
func TestFileUserStoreAuth(t *testing.T) {
	store, err := websocket.NewFileUserStore(writeUsers(t))
	if err != nil {
		t.Fatal(err)
	}
	store.Scopes = []string{"read"}
	a := serveAuth(t, store)
	st, p := a.status(t, websocket.BasicAuth{Username: "alice", Password: "alice-pw"})
	if st != 101 || p == nil || p.Name != "alice" || !slices.Equal(p.Scopes, []string{"read", "write"}) {
		t.Fatalf("alice: %d %+v", st, p)
	}
	for _, tc := range []struct {
		auth websocket.Authenticator
		want int
	}{
		{websocket.BasicAuth{Username: "alice", Password: "wrong"}, 401},
		{websocket.BasicAuth{Username: "nobody", Password: "alice-pw"}, 401},
		{websocket.BearerAuth{Token: "alice-pw"}, 401},
		{nil, 401},
		{websocket.BasicAuth{Username: "bob", Password: "bob-pw"}, 403},
	} {
		if st, _ := a.status(t, tc.auth); st != tc.want {
			t.Errorf("%+v: %d, want %d", tc.auth, st, tc.want)
		}
	}
	if _, err := websocket.ReadFileUserStore(strings.NewReader("alice:plain-password\n")); err == nil {
		t.Error("a plain password was accepted as a hash")
	}
}

// jwtKeys are signing keys and a token maker.
type jwtKeys struct {
	key, other *ecdsa.PrivateKey
}

func newJWTKeys(t *testing.T) *jwtKeys {
	k1, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &jwtKeys{k1, k2}
}

func (k *jwtKeys) token(t *testing.T, key *ecdsa.PrivateKey, kid string, claims jwt.MapClaims) string {
	t.Helper()
	base := jwt.MapClaims{"iss": "netkit-test", "aud": "ws", "sub": "carol", "exp": time.Now().Add(time.Hour).Unix(), "scope": "chat admin"}
	for k, v := range claims {
		if v == nil {
			delete(base, k)
		} else {
			base[k] = v
		}
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, base)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestJWTAuth: a valid token passes with its subject, scopes and claims;
// expired (beyond the skew), forged, wrong-audience, wrong-issuer and
// exp-less tokens get 401; missing scopes 403. The key comes from
// PublicKey, a PEM file, or a cached JWKS.
func TestJWTAuth(t *testing.T) {
	k := newJWTKeys(t)
	der, err := x509.MarshalPKIXPublicKey(&k.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemPath := filepath.Join(t.TempDir(), "key.pem")
	os.WriteFile(pemPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600)

	var fetches atomic.Int32
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
		pub := k.key.PublicKey
		x, y := make([]byte, 32), make([]byte, 32)
		pub.X.FillBytes(x)
		pub.Y.FillBytes(y)
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{
			{"kty": "RSA", "kid": "unusable", "n": "!!", "e": "AQAB"},
			{"kty": "EC", "kid": "k1", "crv": "P-256", "x": b64(x), "y": b64(y), "use": "sig"},
		}})
	}))
	defer jwks.Close()

	for _, v := range []*websocket.JWTValidator{
		{PublicKey: &k.key.PublicKey},
		{CertFile: pemPath},
		{JWKSURL: jwks.URL},
	} {
		v.Issuer, v.Audience, v.ClockSkew, v.Scopes = "netkit-test", []string{"other", "ws"}, 30*time.Second, []string{"chat"}
		a := serveAuth(t, v)
		st, p := a.status(t, websocket.BearerAuth{Token: k.token(t, k.key, "k1", nil)})
		if st != 101 || p.Name != "carol" || !slices.Equal(p.Scopes, []string{"chat", "admin"}) || p.Claims["iss"] != "netkit-test" {
			t.Fatalf("valid: %d %+v", st, p)
		}
		if st, _ := a.status(t, websocket.BearerAuth{Token: k.token(t, k.key, "k1", jwt.MapClaims{"exp": time.Now().Add(-10 * time.Second).Unix()})}); st != 101 {
			t.Errorf("expired within the skew: %d", st)
		}
		for name, tok := range map[string]string{
			"expired":        k.token(t, k.key, "k1", jwt.MapClaims{"exp": time.Now().Add(-time.Minute).Unix()}),
			"forged":         k.token(t, k.other, "k1", nil),
			"wrong audience": k.token(t, k.key, "k1", jwt.MapClaims{"aud": "elsewhere"}),
			"wrong issuer":   k.token(t, k.key, "k1", jwt.MapClaims{"iss": "mallory"}),
			"no exp":         k.token(t, k.key, "k1", jwt.MapClaims{"exp": nil}),
			"garbage":        "not.a.jwt",
		} {
			if st, _ := a.status(t, websocket.BearerAuth{Token: tok}); st != 401 {
				t.Errorf("%s: %d, want 401", name, st)
			}
		}
		if st, _ := a.status(t, websocket.BearerAuth{Token: k.token(t, k.key, "k1", jwt.MapClaims{"scope": "read"})}); st != 403 {
			t.Errorf("missing scope: %d, want 403", st)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("JWKS fetched %d times, want 1 (cached)", n)
	}

	// A list-valued scope claim under another key.
	v := &websocket.JWTValidator{PublicKey: &k.key.PublicKey, ScopeKey: "roles", Scopes: []string{"ops"}}
	a := serveAuth(t, v)
	if st, p := a.status(t, websocket.BearerAuth{Token: k.token(t, k.key, "", jwt.MapClaims{"roles": []string{"dev", "ops"}})}); st != 101 || len(p.Scopes) != 2 {
		t.Errorf("roles: %d %+v", st, p)
	}
}

// TestIntrospectionAuth: active tokens pass (and are cached, never beyond
// their exp), inactive ones get 401, missing scopes 403; the endpoint sees
// the client credentials.
func TestIntrospectionAuth(t *testing.T) {
	var hits atomic.Int32
	ep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if id, secret, ok := r.BasicAuth(); !ok || id != "rs" || secret != "rs-secret" {
			http.Error(w, "client auth", http.StatusUnauthorized)
			return
		}
		r.ParseForm()
		future, past := time.Now().Add(time.Hour).Unix(), time.Now().Add(-time.Second).Unix()
		res := map[string]any{"active": false}
		switch r.PostForm.Get("token") {
		case "good":
			res = map[string]any{"active": true, "username": "dave", "scope": "chat", "exp": future}
		case "expiring":
			res = map[string]any{"active": true, "sub": "erin", "scope": "chat", "exp": past}
		case "noscope":
			res = map[string]any{"active": true, "sub": "frank", "exp": future}
		}
		json.NewEncoder(w).Encode(res)
	}))
	defer ep.Close()
	o := &websocket.OAuth2Introspection{URL: ep.URL, ClientID: "rs", ClientSecret: "rs-secret", Scopes: []string{"chat"}}
	a := serveAuth(t, o)
	for i := range 3 {
		st, p := a.status(t, websocket.BearerAuth{Token: "good"})
		if st != 101 || p.Name != "dave" || p.Claims["username"] != "dave" {
			t.Fatalf("good #%d: %d %+v", i, st, p)
		}
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("%d introspections for one token, want 1 (cached)", n)
	}
	for range 2 {
		if st, p := a.status(t, websocket.BearerAuth{Token: "expiring"}); st != 101 || p.Name != "erin" {
			t.Fatalf("expiring: %d", st)
		}
	}
	if n := hits.Load(); n != 3 {
		t.Fatalf("%d introspections, want 3 (a result past its exp is not cached)", n)
	}
	if st, _ := a.status(t, websocket.BearerAuth{Token: "revoked"}); st != 401 {
		t.Errorf("inactive: %d", st)
	}
	if st, _ := a.status(t, websocket.BearerAuth{Token: "noscope"}); st != 403 {
		t.Errorf("noscope: %d", st)
	}
	bad := &websocket.OAuth2Introspection{URL: ep.URL, ClientID: "rs", ClientSecret: "wrong"}
	if st, _ := serveAuth(t, bad).status(t, websocket.BearerAuth{Token: "good"}); st != 401 {
		t.Errorf("endpoint refusing us: %d", st)
	}
}

// TestAuthProvidersInOrder: the first provider that accepts wins; a
// provider that accepts without the scopes ends the search with 403.
func TestAuthProvidersInOrder(t *testing.T) {
	store, err := websocket.NewFileUserStore(writeUsers(t))
	if err != nil {
		t.Fatal(err)
	}
	k := newJWTKeys(t)
	a := serveAuth(t, store, &websocket.JWTValidator{PublicKey: &k.key.PublicKey, Scopes: []string{"admin"}})
	if st, p := a.status(t, websocket.BasicAuth{Username: "bob", Password: "bob-pw"}); st != 101 || p.Name != "bob" {
		t.Errorf("basic via the first: %d", st)
	}
	if st, p := a.status(t, websocket.BearerAuth{Token: k.token(t, k.key, "", nil)}); st != 101 || p.Name != "carol" {
		t.Errorf("bearer via the second: %d", st)
	}
	if st, _ := a.status(t, websocket.BearerAuth{Token: k.token(t, k.key, "", jwt.MapClaims{"scope": "chat"})}); st != 403 {
		t.Errorf("bearer without admin: %d", st)
	}
	if st, _ := a.status(t, websocket.BasicAuth{Username: "bob", Password: "x"}); st != 401 {
		t.Errorf("bad basic: %d", st)
	}
}

// authFunc adapts a function to a ListenerAuth.
type authFunc func(r *http.Request) (*websocket.Principal, error)

func (f authFunc) Authenticate(_ context.Context, r *http.Request) (*websocket.Principal, error) {
	return f(r)
}

// TestAcceptAuth: Accept checks ServiceConfig.Auth too, and puts the
// Principal on the pulled Conn.
func TestAcceptAuth(t *testing.T) {
	auth := authFunc(func(r *http.Request) (*websocket.Principal, error) {
		switch r.Header.Get("Authorization") {
		case "Bearer ok":
			return &websocket.Principal{Name: "pat"}, nil
		case "Bearer noscope":
			return nil, &websocket.AuthzError{Message: "no scope"}
		}
		return nil, errors.New("unknown")
	})
	conns := make(chan *websocket.Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.ServiceConfig{Auth: []websocket.ListenerAuth{auth}})
		if err == nil {
			conns <- c
		}
	}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	for tok, want := range map[string]int{"ok": 101, "noscope": 403, "bad": 401} {
		c, err := websocket.Dial(testCtx(t), url, &websocket.ClientConfig{Auth: websocket.BearerAuth{Token: tok}})
		var he *websocket.InvalidHandshakeError
		switch {
		case err == nil && want == 101:
			sc := recv(t, conns)
			if p := sc.Principal(); p == nil || p.Name != "pat" {
				t.Errorf("Principal %+v", p)
			}
			done := make(chan error, 1)
			go func() { done <- sc.Close(testCtx(t), 1000, "") }()
			if _, _, err := c.Read(testCtx(t), nil); !errors.Is(err, net.ErrClosed) {
				t.Errorf("client read: %v", err)
			}
			if err := recv(t, done); err != nil {
				t.Errorf("server close: %v", err)
			}
		case errors.As(err, &he) && he.Status == want:
		default:
			t.Errorf("%s: %v, want %d", tok, err, want)
		}
	}
}

// TestAuthOnBothUpgradePaths: ServiceConfig.Auth runs before the
// UpgradeService on a Listener's own HTTP reader (the engine connection
// that becomes the WebSocket) and on a Handler mounted on an http.Server
// (hijack): 101 with the same Principal on the request and the Conn, 401
// with a WWW-Authenticate challenge, 403, and Upgrade runs only for the
// accepted request.
func TestAuthOnBothUpgradePaths(t *testing.T) {
	auth := authFunc(func(r *http.Request) (*websocket.Principal, error) {
		switch r.Header.Get("Authorization") {
		case "Bearer ok":
			return &websocket.Principal{Name: "pat", Scopes: []string{"chat"}}, nil
		case "Bearer noscope":
			return nil, &websocket.AuthzError{Message: "no scope"}
		}
		return nil, errors.New("unknown")
	})
	var upgrades atomic.Int64
	fromR, fromC := make(chan *websocket.Principal, 1), make(chan *websocket.Principal, 1)
	svc := &websocket.ServiceFuncs{OnOpen: func(c *websocket.Conn) error { fromC <- c.Principal(); return nil }}
	up := websocket.UpgradeFunc(func(r *http.Request, _ http.Header) (websocket.Service, error) {
		upgrades.Add(1)
		fromR <- websocket.PrincipalFrom(r.Context())
		return svc, nil
	})
	sc := &websocket.ServiceConfig{Auth: []websocket.ListenerAuth{auth}, Logger: quietLogger}
	hsrv := httptest.NewServer(websocket.NewHandler(up, sc))
	defer hsrv.Close()
	urls := map[string]string{
		"listener": clServe(t, "/auth", up, sc),
		"handler":  "ws" + strings.TrimPrefix(hsrv.URL, "http"),
	}
	for name, url := range urls {
		upgrades.Store(0)
		for _, tc := range []struct {
			tok  string
			want int
		}{{"ok", 101}, {"noscope", 403}, {"bad", 401}, {"", 401}} {
			var a websocket.Authenticator
			if tc.tok != "" {
				a = websocket.BearerAuth{Token: tc.tok}
			}
			c, err := websocket.Dial(testCtx(t), url, &websocket.ClientConfig{Auth: a})
			var he *websocket.InvalidHandshakeError
			switch {
			case err == nil && tc.want == 101:
				p, pc := recv(t, fromR), recv(t, fromC)
				if p == nil || p.Name != "pat" || p != pc {
					t.Errorf("%s: Principal on the request %+v, on the Conn %+v", name, p, pc)
				}
				c.Close(testCtx(t), 1000, "")
			case errors.As(err, &he) && he.Status == tc.want:
				if tc.want == 401 && he.Response.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s: 401 without WWW-Authenticate", name)
				}
			default:
				t.Errorf("%s %q: %v, want %d", name, tc.tok, err, tc.want)
			}
		}
		if n := upgrades.Load(); n != 1 {
			t.Errorf("%s: Upgrade ran %d times, want once (for the accepted request)", name, n)
		}
	}
}

// TestAuthRefusalBody: a refusal by ServiceConfig.Auth answers the status
// text only, as an Upgrade error does (the providers' texts carry their
// causes); ExposeUpgradeErrors sends the text. The 401 names the schemes.
func TestAuthRefusalBody(t *testing.T) {
	refuse := authFunc(func(r *http.Request) (*websocket.Principal, error) {
		if r.Header.Get("Authorization") == "Bearer noscope" {
			return nil, &websocket.AuthzError{Message: "websocket: pat lacks the scope admin"}
		}
		return nil, errors.New("introspection at 10.1.2.3 refused")
	})
	up := websocket.Static(websocket.Echo)
	for _, expose := range []bool{false, true} {
		url := clServe(t, "/auth", up, &websocket.ServiceConfig{Auth: []websocket.ListenerAuth{refuse}, ExposeUpgradeErrors: expose})
		addr := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/auth")
		for _, tc := range []struct {
			auth, status, hidden, exposed string
		}{
			{"Bearer x", "401", "Unauthorized", "introspection at 10.1.2.3 refused"},
			{"Bearer noscope", "403", "Forbidden", "pat lacks the scope admin"},
		} {
			c := dialRaw(t, addr, "/auth", http.Header{"Authorization": {tc.auth}})
			body := readBody(t, c)
			want, other := tc.hidden, tc.exposed
			if expose {
				want, other = other, want
			}
			if st := strconv.Itoa(c.resp.StatusCode); st != tc.status || !strings.Contains(body, want) || strings.Contains(body, other) {
				t.Errorf("expose %v, %s: %s %q", expose, tc.auth, st, body)
			}
			if www := c.resp.Header.Get("WWW-Authenticate"); (tc.status == "401") != (www != "") {
				t.Errorf("expose %v, %s: WWW-Authenticate %q", expose, tc.auth, www)
			}
		}
	}
}
