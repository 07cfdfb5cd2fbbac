package websocket

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
)

// ListenerAuth is one authentication provider of ServiceConfig.Auth
// (Ballerina's ListenerAuthConfig): [*FileUserStore], [*JWTValidator],
// [*OAuth2Introspection], or one of the user's. Authenticate checks the
// upgrade request's credentials, bounded by ctx: it returns the
// [Principal] when they are valid and carry the provider's scopes; an
// *AuthzError when they are valid but lack the scopes (403, no further
// provider is tried); any other error (or a nil Principal) when it does not
// accept them, and the next provider is tried (401 when none accepts).
type ListenerAuth interface {
	Authenticate(ctx context.Context, r *http.Request) (*Principal, error)
}

// Principal is an authenticated client: the user of a file user store,
// the subject of a JWT or the introspected token's user.
type Principal struct {
	// Name is the user name, or the token's subject ("sub").
	Name string
	// Scopes are the principal's scopes.
	Scopes []string
	// Claims are the JWT's claims, or the introspection response's fields;
	// nil for a file user store.
	Claims map[string]any
}

type principalKey struct{}

// principalAttr is the Conn attribute that holds the Principal.
const principalAttr = "\x00websocket.principal"

// PrincipalFrom returns the Principal ServiceConfig.Auth authenticated,
// from the upgrade request's context (r.Context() in
// UpgradeService.Upgrade), or nil.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Principal returns the Principal ServiceConfig.Auth authenticated for
// this connection, or nil.
func (c *Conn) Principal() *Principal {
	p, _ := c.Attribute(principalAttr).(*Principal)
	return p
}

// carryPrincipal carries the Principal of r (ServiceConfig.Auth) to the
// session's Open, which stores it on the Conn.
func (s *session) carryPrincipal(r *http.Request) {
	if p := PrincipalFrom(r.Context()); p != nil {
		s.failed = &failure{principal: p}
	}
}

// authenticate runs the Handler's providers on r. It returns r with the
// Principal in its context, or answers 401 or 403 and returns false.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	return authenticateRequest(w, r, &h.sc, h.cc.logger)
}

// authenticateRequest runs sc.Auth on r (Handler and Accept). A refusal's
// body is the status text, as an Upgrade error's: the providers' texts
// carry their causes (a JWKS or introspection failure, the token's claims)
// and reach the peer only with sc.ExposeUpgradeErrors.
func authenticateRequest(w http.ResponseWriter, r *http.Request, sc *ServiceConfig, logger *slog.Logger) (*http.Request, bool) {
	if len(sc.Auth) == 0 {
		return r, true
	}
	p, err := authenticate(r.Context(), sc.Auth, r)
	if err != nil {
		status, _ := upgradeRefusal(err, false)
		body := http.StatusText(status)
		if sc.ExposeUpgradeErrors {
			body = err.Error()
		}
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer, Basic realm="websocket"`)
		}
		if logger != nil {
			logger.Debug("websocket: upgrade refused by ServiceConfig.Auth", slog.String("remote", r.RemoteAddr), slog.String("path", r.URL.Path), slog.Int("code", status), slog.Any("err", err))
		}
		refuse(w, status, body)
		return r, false
	}
	return r.WithContext(context.WithValue(r.Context(), principalKey{}, p)), true
}

// authenticate tries providers in order: the first Principal wins, an
// *AuthzError ends the search (403), else an *AuthnError (401).
func authenticate(ctx context.Context, providers []ListenerAuth, r *http.Request) (*Principal, error) {
	var last error
	for _, a := range providers {
		p, err := a.Authenticate(ctx, r)
		var az *AuthzError
		switch {
		case errors.As(err, &az):
			return nil, err
		case err == nil && p != nil:
			return p, nil
		case err != nil:
			last = err
		}
	}
	msg := "websocket: no credentials accepted"
	if last != nil {
		msg += ": " + last.Error()
	}
	return nil, &AuthnError{Message: msg}
}

// checkScopes returns an *AuthzError unless p has one of want (none wanted:
// any principal passes), as Ballerina's scope check.
func checkScopes(p *Principal, want []string) (*Principal, error) {
	if len(want) == 0 {
		return p, nil
	}
	for _, s := range p.Scopes {
		if slices.Contains(want, s) {
			return p, nil
		}
	}
	return nil, &AuthzError{Message: "websocket: " + p.Name + " has none of the scopes " + strings.Join(want, ", ")}
}

// bearerToken returns r's bearer token, or "".
func bearerToken(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// errNoCredentials is a provider's answer to a request without
// credentials of its scheme.
var errNoCredentials = errors.New("websocket: no credentials of this scheme")

// scopeList parses a scope claim: a space-separated string or a list.
func scopeList(v any) []string {
	switch v := v.(type) {
	case string:
		return strings.Fields(v)
	case []any:
		out := make([]string, 0, len(v))
		for _, s := range v {
			if s, ok := s.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return v
	}
	return nil
}
