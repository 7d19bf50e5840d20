package entra

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
)

// Grant types of the v2.0 token endpoint.
const (
	grantClientCredentials = "client_credentials"
	grantDeviceCode        = "device_code" // what MSAL sends
	grantDeviceCodeURN     = "urn:ietf:params:oauth:grant-type:device_code"
	grantRefreshToken      = "refresh_token"
	grantAuthorizationCode = "authorization_code"
	assertionTypeJWT       = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// authorityMux routes the https authority's endpoints.
func (s *Server) authorityMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", s.handleDiscovery)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.handleToken)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/devicecode", s.handleDeviceCode)
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/authorize", s.handleAuthorize)
	return mux
}

// handleDiscovery serves OpenID discovery. MSAL needs the three endpoints
// and an issuer on the authority's scheme and host.
func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	base := s.authority.URL + "/" + url.PathEscape(tenant)
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                s.issuer(tenant),
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"ES256"},
		"tenant_region_scope":                   "sim",
	})
}

// readForm parses a bounded form body, answering the error itself.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the request body is not a valid form")
		return nil, false
	}
	return r.PostForm, true
}

// handleToken is the v2.0 token endpoint.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	form, ok := readForm(w, r)
	if !ok {
		return
	}
	tenant := r.PathValue("tenant")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.requests++
	if s.state.failing {
		s.failure(w)
		return
	}
	switch form.Get("grant_type") {
	case grantClientCredentials:
		s.clientCredentials(w, tenant, form)
	case grantDeviceCode, grantDeviceCodeURN:
		s.deviceCodeGrant(w, form)
	case grantRefreshToken:
		s.refreshTokenGrant(w, form)
	case grantAuthorizationCode:
		s.authorizationCodeGrant(w, form)
	case grantJWTBearer:
		s.onBehalfOf(w, tenant, form)
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "the grant type is not supported by this server")
	}
}

// clientCredentials authenticates an app (secret, certificate assertion or
// federated assertion) and issues it an app token. Callers hold s.mu.
func (s *Server) clientCredentials(w http.ResponseWriter, tenant string, form url.Values) {
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
	scope, ok := resourceScope(form.Get("scope"))
	if !ok || !strings.HasSuffix(scope, "/.default") {
		oauthError(w, http.StatusBadRequest, "invalid_scope", "AADSTS1002012: client credentials need one <resource>/.default scope")
		return
	}
	tok, err := s.accessToken(app, audienceOf(scope), "")
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", "signing failed")
		return
	}
	writeJSON(w, http.StatusOK, s.newTokenResponse(tok))
}

// appAuthenticated checks the credential an app presents against the one it
// was registered with. Callers hold s.mu.
func (s *Server) appAuthenticated(app *principal, tenant string, form url.Values) bool {
	if secret := form.Get("client_secret"); secret != "" {
		return app.secret != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(app.secret)) == 1
	}
	assertion := form.Get("client_assertion")
	if assertion == "" || form.Get("client_assertion_type") != assertionTypeJWT {
		return false
	}
	switch {
	case app.certificate != nil:
		return verifyCertificateAssertion(assertion, app, s.TokenEndpoint(tenant)) == nil
	case app.federated != "":
		return s.verifyFederatedAssertion(assertion, app.federated) == nil
	}
	return false
}
