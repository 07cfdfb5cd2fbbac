package websocket

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Authenticator adds credentials to a client's upgrade request
// (ClientConfig.Auth). Authenticate runs once per dial (and redial); an
// error fails Dial with an [ErrAuth] error wrapping it.
type Authenticator interface {
	Authenticate(ctx context.Context, r *http.Request) error
}

// BasicAuth sends HTTP Basic credentials (Ballerina's CredentialsConfig).
type BasicAuth struct {
	Username string
	Password string
}

// Authenticate sets the Authorization header.
func (a BasicAuth) Authenticate(_ context.Context, r *http.Request) error {
	if a.Username == "" {
		return errors.New("websocket: BasicAuth without a username")
	}
	r.SetBasicAuth(a.Username, a.Password)
	return nil
}

// BearerAuth sends a bearer token (Ballerina's BearerTokenConfig).
type BearerAuth struct {
	Token string
}

// Authenticate sets the Authorization header.
func (a BearerAuth) Authenticate(_ context.Context, r *http.Request) error {
	if a.Token == "" {
		return errors.New("websocket: BearerAuth without a token")
	}
	r.Header.Set("Authorization", "Bearer "+a.Token)
	return nil
}

// OAuth2ClientCredentials fetches an OAuth2 token with the
// client-credentials grant (Ballerina's OAuth2ClientCredentialsGrantConfig)
// and sends it as a bearer token. The token is cached and refreshed when it
// expires, so redials reuse it. Use one value (a pointer) per client.
type OAuth2ClientCredentials struct {
	// TokenURL is the token endpoint.
	TokenURL string
	// ClientID and ClientSecret identify the client.
	ClientID     string
	ClientSecret string
	// Scopes are requested; default none.
	Scopes []string
	// Params are extra token request parameters (for example "audience").
	Params url.Values
	// HTTPClient makes the token requests. Nil: http.DefaultClient.
	HTTPClient *http.Client

	cache tokenCache
}

// Authenticate fetches (or reuses) a token and sets the Authorization
// header. The token request is bounded by ctx.
func (a *OAuth2ClientCredentials) Authenticate(ctx context.Context, r *http.Request) error {
	return a.cache.authenticate(ctx, r, a.HTTPClient, func(ctx context.Context, _ *oauth2.Token) (*oauth2.Token, error) {
		cc := &clientcredentials.Config{
			ClientID:       a.ClientID,
			ClientSecret:   a.ClientSecret,
			TokenURL:       a.TokenURL,
			Scopes:         a.Scopes,
			EndpointParams: a.Params,
		}
		return cc.Token(ctx)
	})
}
