package entra

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// maxForm bounds request bodies; real token requests are a few KB.
const maxForm = 64 << 10

// writeJSON sends v as a JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// oauthError sends an RFC 6749 error body, the shape MSAL and azidentity
// parse into their error messages.
func oauthError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]any{
		"error":             code,
		"error_description": description,
		"timestamp":         time.Now().UTC().Format(time.DateTime + "Z"),
	})
}

// failure sends the failure SetFailing asked for. Callers hold s.mu.
func (s *Server) failure(w http.ResponseWriter) {
	oauthError(w, s.state.failStatus, s.state.failCode, "entra sim: the failure switch is on")
}

// oidcScopes are the scopes MSAL adds to every request; they name no resource.
var oidcScopes = map[string]bool{"openid": true, "offline_access": true, "profile": true, "email": true}

// resourceScope picks the one resource scope out of a space-separated scope
// parameter, e.g. "https://database.windows.net/.default" out of
// "https://database.windows.net/.default openid offline_access profile".
func resourceScope(scope string) (string, bool) {
	var found string
	for _, s := range strings.Fields(scope) {
		if oidcScopes[s] {
			continue
		}
		if found != "" {
			return "", false // tokens are for one resource at a time
		}
		found = s
	}
	return found, usableResource(found)
}

// usableResource reports whether a resource or scope can become an aud
// claim: it names something, in valid UTF-8 (a JWT is JSON).
func usableResource(r string) bool {
	return audienceOf(r) != "" && utf8.ValidString(r)
}

// tokenResponse is the v2.0 token endpoint's success body.
type tokenResponse struct {
	TokenType    string `json:"token_type"`
	AccessToken  string `json:"access_token"`
	ExpiresIn    int64  `json:"expires_in"`
	ExtExpiresIn int64  `json:"ext_expires_in"`
	RefreshIn    int64  `json:"refresh_in,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	ClientInfo   string `json:"client_info,omitempty"`
}

// newTokenResponse fills the lifetime fields of a response for tok.
// Callers hold s.mu.
func (s *Server) newTokenResponse(tok issued) tokenResponse {
	in := int64(time.Until(tok.expiresAt) / time.Second)
	r := tokenResponse{TokenType: "Bearer", AccessToken: tok.token, ExpiresIn: in, ExtExpiresIn: in}
	if s.state.refreshIn > 0 {
		r.RefreshIn = int64(s.state.refreshIn / time.Second)
	}
	return r
}
