package entra

import (
	"crypto"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrInvalidToken is wrapped by every error Verify returns. The messages
// never contain the token.
var ErrInvalidToken = errors.New("entra: invalid access token")

// PublicKey is the key access tokens are signed with (*ecdsa.PublicKey, ES256).
func (s *Server) PublicKey() crypto.PublicKey { return &s.key.PublicKey }

// Keyfunc returns a jwt.Keyfunc that accepts only ES256 tokens signed by
// this server, for callers that parse tokens with golang-jwt themselves.
func (s *Server) Keyfunc() jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		if t.Method != jwt.SigningMethodES256 {
			return nil, fmt.Errorf("unexpected signing method %v", t.Header["alg"])
		}
		return &s.key.PublicKey, nil
	}
}

// Verify checks an access token as a resource server would: signed by this
// server, not expired and not before its nbf, issued by this server's
// authority, an access token (not an id token or an assertion), and meant for
// audience (a resource such as "https://database.windows.net/" or a scope
// such as "https://database.windows.net/.default"; a trailing slash does not
// matter). It returns the token's claims.
func (s *Server) Verify(token, audience string) (Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, s.Keyfunc(),
		jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(5*time.Second),
	)
	if err != nil {
		// golang-jwt's messages name the failed check, never the token.
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if !strings.HasPrefix(c.Issuer, s.authority.URL+"/") {
		return Claims{}, fmt.Errorf("%w: issued by another authority", ErrInvalidToken)
	}
	if c.IdentityType == "" || c.ObjectID == "" || c.TenantID == "" {
		return Claims{}, fmt.Errorf("%w: not an access token", ErrInvalidToken)
	}
	want := audienceOf(audience)
	for _, a := range c.Audience {
		if sameAudience(a, want) {
			return c, nil
		}
	}
	return Claims{}, fmt.Errorf("%w: audience %q is not %q", ErrInvalidToken, strings.Join(c.Audience, ","), want)
}
