package entra

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// grantJWTBearer is the grant type of the on-behalf-of flow.
const grantJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// APIAudience is the audience of the tokens users send to the middle-tier
// app clientID (its application id URI), which it exchanges on their behalf.
func APIAudience(clientID string) string { return "api://" + clientID }

// UserToken signs in the registered user upn to the web API clientID: an
// access token for audience APIAudience(clientID), valid for lifetime (it
// may be negative, for an expired one), such as the user's browser or app
// would send the API as its bearer token. It is not counted in Issued.
func (s *Server) UserToken(upn, clientID string, lifetime time.Duration) (string, error) {
	return s.userToken(upn, clientID, lifetime, []string{"pwd"})
}

// UserTokenWithMFA is UserToken for a user who also passed multi-factor
// authentication (amr "pwd" and "mfa"), as after a claims challenge.
func (s *Server) UserTokenWithMFA(upn, clientID string, lifetime time.Duration) (string, error) {
	return s.userToken(upn, clientID, lifetime, []string{"pwd", "mfa"})
}

func (s *Server) userToken(upn, clientID string, lifetime time.Duration, amr []string) (string, error) {
	s.mu.Lock()
	user, ok := s.state.users[strings.ToLower(upn)]
	s.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("entra: no user %q registered", upn)
	}
	now := time.Now()
	return s.sign(Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.issuer(user.tenant),
			Subject:   user.oid,
			Audience:  jwt.ClaimStrings{APIAudience(clientID)},
			ExpiresAt: jwt.NewNumericDate(now.Add(lifetime)),
			NotBefore: jwt.NewNumericDate(now.Add(-time.Minute).Add(min(lifetime, 0))),
			IssuedAt:  jwt.NewNumericDate(now.Add(min(lifetime, 0))),
			ID:        rand.Text(),
		},
		TenantID: user.tenant, ObjectID: user.oid, UPN: user.upn, IdentityType: "user",
		AppID: "web-client", AMR: amr,
	})
}

// Exchanges counts the on-behalf-of grants the server answered with a token.
func (s *Server) Exchanges() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.exchanges
}

// onBehalfOf is the OBO grant: the middle-tier app authenticates as itself
// (secret, certificate or federated assertion) and presents the user's token
// as the assertion; the server checks that token (signed by this server, not
// expired, issued to this app's audience, a user's) and issues a token for
// the requested resource to that user. Callers hold s.mu.
func (s *Server) onBehalfOf(w http.ResponseWriter, tenant string, form url.Values) {
	if form.Get("requested_token_use") != "on_behalf_of" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "AADSTS900144: requested_token_use must be on_behalf_of")
		return
	}
	clientID := form.Get("client_id")
	app, ok := s.state.apps[appKey(tenant, clientID)]
	if !ok {
		oauthError(w, http.StatusBadRequest, "unauthorized_client", "AADSTS700016: application not found in the directory")
		return
	}
	if !s.appAuthenticated(app, tenant, form) {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "AADSTS7000215: invalid client credential")
		return
	}
	user, mfa, err := s.userOfAssertion(form.Get("assertion"), clientID)
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_grant", err.Error())
		return
	}
	if s.state.mfaRequired[strings.ToLower(user.upn)] && !mfa {
		mfaChallenge(w)
		return
	}
	tok, idTok, ok := s.signUserTokens(w, user, clientID, form.Get("scope"))
	if !ok {
		return
	}
	s.state.exchanges++
	resp := s.newTokenResponse(tok)
	resp.IDToken, resp.ClientInfo = idTok, clientInfo(user)
	writeJSON(w, http.StatusOK, resp)
}

// userOfAssertion verifies a user assertion for the middle-tier app
// clientID and returns its user, and whether the user passed multi-factor
// authentication (amr holds "mfa"). Errors carry Entra's codes, never the
// token. Callers hold s.mu.
func (s *Server) userOfAssertion(assertion, clientID string) (*principal, bool, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(assertion, &c, s.Keyfunc(),
		jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}),
		jwt.WithExpirationRequired())
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, false, errors.New("AADSTS500133: Assertion is not within its valid time range")
	case err != nil:
		return nil, false, errors.New("AADSTS50013: Assertion failed signature validation")
	case !strings.HasPrefix(c.Issuer, s.authority.URL+"/"):
		return nil, false, errors.New("AADSTS50013: Assertion was issued by another authority")
	}
	aud := false
	for _, a := range c.Audience {
		aud = aud || strings.EqualFold(a, APIAudience(clientID)) || strings.EqualFold(a, clientID)
	}
	if !aud {
		return nil, false, errors.New("AADSTS50013: Assertion audience does not match the client app")
	}
	if c.IdentityType != "user" || c.UPN == "" {
		return nil, false, errors.New("AADSTS50013: Assertion is not a user's token")
	}
	user, ok := s.state.users[strings.ToLower(c.UPN)]
	if !ok || !strings.EqualFold(user.oid, c.ObjectID) || !strings.EqualFold(user.tenant, c.TenantID) {
		return nil, false, errors.New("AADSTS50034: the user account does not exist in the directory")
	}
	return user, slices.Contains(c.AMR, "mfa"), nil
}
