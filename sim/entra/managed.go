package entra

import (
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
)

// appServiceAPIVersion is the only api-version the App Service endpoint
// speaks; azidentity sends exactly this one.
const appServiceAPIVersion = "2019-08-01"

// managedTokenResponse is the App Service endpoint's success body.
type managedTokenResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresOn   string `json:"expires_on"` // unix seconds, as a string like App Service
	Resource    string `json:"resource"`
	TokenType   string `json:"token_type"`
	ClientID    string `json:"client_id"`
	RefreshIn   int64  `json:"refresh_in,omitempty"`
}

// serveManagedIdentity is the App Service managed-identity endpoint:
// GET ?api-version=2019-08-01&resource=…[&client_id=…|&object_id=…] with the
// X-IDENTITY-HEADER secret. No id selects the system-assigned identity.
func (s *Server) serveManagedIdentity(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || r.URL.Path != "/msi/token" {
		oauthError(w, http.StatusNotFound, "invalid_request", "no such endpoint")
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-IDENTITY-HEADER")), []byte(s.miHeader)) != 1 {
		oauthError(w, http.StatusUnauthorized, "invalid_request", "missing or wrong X-IDENTITY-HEADER")
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.requests++
	if s.state.failing {
		s.failure(w)
		return
	}
	if q.Get("api-version") != appServiceAPIVersion {
		oauthError(w, http.StatusBadRequest, "invalid_request", "unsupported api-version")
		return
	}
	resource := q.Get("resource")
	if !usableResource(resource) {
		oauthError(w, http.StatusBadRequest, "invalid_request", "resource is required")
		return
	}
	p := s.managedIdentity(q.Get("client_id"), q.Get("object_id"), q.Get("mi_res_id"))
	if p == nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "identity not found")
		return
	}
	tok, err := s.accessToken(p, audienceOf(resource), "")
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", "signing failed")
		return
	}
	resp := managedTokenResponse{
		AccessToken: tok.token,
		ExpiresOn:   strconv.FormatInt(tok.expiresAt.Unix(), 10),
		Resource:    resource,
		TokenType:   "Bearer",
		ClientID:    p.appID,
	}
	if s.state.refreshIn > 0 {
		resp.RefreshIn = int64(s.state.refreshIn.Seconds())
	}
	writeJSON(w, http.StatusOK, resp)
}

// managedIdentity finds the identity a request names, or nil. Resource ids
// are not modelled. Callers hold s.mu.
func (s *Server) managedIdentity(clientID, objectID, resourceID string) *principal {
	switch {
	case resourceID != "":
		return nil
	case objectID != "":
		for _, p := range s.state.managed {
			if strings.EqualFold(p.oid, objectID) {
				return p
			}
		}
		return nil
	}
	return s.state.managed[strings.ToLower(clientID)]
}
