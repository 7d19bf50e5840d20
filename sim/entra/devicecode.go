package entra

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// deviceCodeLifetime is how long a user has to approve a device code.
const deviceCodeLifetime = 15 * time.Minute

// deviceCode is a pending device code sign-in.
type deviceCode struct {
	userCode  string
	clientID  string
	expiresAt time.Time
	user      *principal // set once approved
}

// refreshGrant is what a refresh token stands for.
type refreshGrant struct {
	user     string // UPN, lower case
	clientID string
	seq      uint64 // order of issue, oldest lowest
}

// maxRefreshTokens bounds the live refresh tokens. Every user grant issues
// one, and a refresh token stays valid when it is redeemed (as Entra's are,
// for clients other than single-page apps), so without a bound a client
// that signed in or refreshed in a loop grew the server without limit. At
// the bound, issuing one revokes the oldest issued: a credential that keeps
// its newest refresh token, as MSAL does, is not affected.
const maxRefreshTokens = 1024

// ErrUnknown is returned by ApproveDeviceCode for an unknown user or code.
var ErrUnknown = errors.New("entra: unknown user or device code")

// SetSignedInUser names the registered user who is "at the keyboard": every
// device code issued from now on is approved at once by upn, and browser
// sign-ins (InstallFakeBrowser) complete as upn. "" turns that off: device
// codes then wait for ApproveDeviceCode and browser sign-ins are denied.
func (s *Server) SetSignedInUser(upn string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.approver = strings.ToLower(upn)
}

// ApproveDeviceCode signs the registered user upn in on the device code with
// this user code, as the user would in a browser; the client's next poll gets
// the user's tokens. Call it from azidentity's DeviceCodeCredentialOptions.UserPrompt.
func (s *Server) ApproveDeviceCode(userCode, upn string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	user, ok := s.state.users[strings.ToLower(upn)]
	if !ok {
		return fmt.Errorf("%w: user", ErrUnknown)
	}
	for _, dc := range s.state.deviceCodes {
		if dc.userCode == userCode {
			dc.user = user
			return nil
		}
	}
	return fmt.Errorf("%w: device code", ErrUnknown)
}

// handleDeviceCode starts a device code sign-in.
func (s *Server) handleDeviceCode(w http.ResponseWriter, r *http.Request) {
	form, ok := readForm(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.requests++
	if s.state.failing {
		s.failure(w)
		return
	}
	clientID := form.Get("client_id")
	if clientID == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "client_id is required")
		return
	}
	if _, ok := resourceScope(form.Get("scope")); !ok {
		oauthError(w, http.StatusBadRequest, "invalid_scope", "one resource scope is required")
		return
	}
	now := time.Now()
	if !roomFor(s.state.deviceCodes, now, func(dc *deviceCode) time.Time { return dc.expiresAt }) {
		oauthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", errTooManyPending)
		return
	}
	dc := &deviceCode{userCode: rand.Text()[:9], clientID: clientID, expiresAt: now.Add(deviceCodeLifetime)}
	if u, ok := s.state.users[s.state.approver]; ok {
		dc.user = u
	}
	device := rand.Text()
	s.state.deviceCodes[device] = dc
	verify := s.authority.URL + "/devicelogin"
	writeJSON(w, http.StatusOK, map[string]any{
		"user_code":        dc.userCode,
		"device_code":      device,
		"verification_uri": verify,
		"expires_in":       int(deviceCodeLifetime / time.Second),
		"interval":         1,
		"message":          "To sign in, open " + verify + " and enter the code " + dc.userCode + " to authenticate.",
	})
}

// deviceCodeGrant answers a poll: pending until approved, then the user's
// tokens, once. Callers hold s.mu.
func (s *Server) deviceCodeGrant(w http.ResponseWriter, form url.Values) {
	device := form.Get("device_code")
	dc, ok := s.state.deviceCodes[device]
	switch {
	case !ok:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "AADSTS70000: unknown device code")
		return
	case dc.clientID != form.Get("client_id"):
		oauthError(w, http.StatusBadRequest, "invalid_grant", "AADSTS70000: the device code belongs to another client")
		return
	case time.Now().After(dc.expiresAt):
		delete(s.state.deviceCodes, device)
		oauthError(w, http.StatusBadRequest, "expired_token", "AADSTS70020: the device code expired")
		return
	case dc.user == nil:
		oauthError(w, http.StatusBadRequest, "authorization_pending", "AADSTS70016: the user has not signed in yet")
		return
	}
	delete(s.state.deviceCodes, device)
	s.userTokens(w, dc.user, dc.clientID, form.Get("scope"))
}

// refreshTokenGrant redeems a refresh token for a new access token (any
// resource) and a new refresh token; the redeemed one stays valid, until
// revoked or pushed out by maxRefreshTokens newer ones. Callers hold s.mu.
func (s *Server) refreshTokenGrant(w http.ResponseWriter, form url.Values) {
	g, ok := s.state.refreshTokens[form.Get("refresh_token")]
	if !ok || g.clientID != form.Get("client_id") {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "AADSTS9002313: invalid refresh token")
		return
	}
	user, ok := s.state.users[g.user]
	if !ok {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "AADSTS50034: the user no longer exists")
		return
	}
	s.userTokens(w, user, g.clientID, form.Get("scope"))
}

// userTokens answers a user grant with what MSAL's public client needs: the
// access token, a refresh token, an id token and client_info. Callers hold
// s.mu.
func (s *Server) userTokens(w http.ResponseWriter, user *principal, clientID, scopeParam string) {
	tok, idTok, ok := s.signUserTokens(w, user, clientID, scopeParam)
	if !ok {
		return
	}
	refresh := rand.Text() + rand.Text()
	s.evictOldestRefreshToken()
	s.state.refreshSeq++
	s.state.refreshTokens[refresh] = refreshGrant{user: user.name, clientID: clientID, seq: s.state.refreshSeq}
	resp := s.newTokenResponse(tok)
	resp.RefreshToken, resp.IDToken, resp.ClientInfo = refresh, idTok, clientInfo(user)
	writeJSON(w, http.StatusOK, resp)
}

// evictOldestRefreshToken makes room for one more refresh token when
// maxRefreshTokens are live, by revoking the oldest. Callers hold s.mu.
func (s *Server) evictOldestRefreshToken() {
	if len(s.state.refreshTokens) < maxRefreshTokens {
		return
	}
	var oldest string
	var seq uint64
	for rt, g := range s.state.refreshTokens {
		if oldest == "" || g.seq < seq {
			oldest, seq = rt, g.seq
		}
	}
	delete(s.state.refreshTokens, oldest)
}

// signUserTokens signs the access token for the one resource in scopeParam
// and the id token of user, as every user grant answers; on failure it has
// written the OAuth error and reports false. Callers hold s.mu.
func (s *Server) signUserTokens(w http.ResponseWriter, user *principal, clientID, scopeParam string) (issued, string, bool) {
	scope, ok := resourceScope(scopeParam)
	if !ok {
		oauthError(w, http.StatusBadRequest, "invalid_scope", "one resource scope is required")
		return issued{}, "", false
	}
	tok, err := s.accessToken(user, audienceOf(scope), clientID)
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", "signing failed")
		return issued{}, "", false
	}
	idTok, err := s.idToken(user, clientID)
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", "signing failed")
		return issued{}, "", false
	}
	return tok, idTok, true
}

// RevokeRefreshTokens invalidates every refresh token of the user upn, as a
// sign-out or an admin's session revocation does: the user's credentials
// then need an interactive sign-in again once their cached access token is
// unusable.
func (s *Server) RevokeRefreshTokens(upn string) {
	name := strings.ToLower(upn)
	s.mu.Lock()
	defer s.mu.Unlock()
	for rt, g := range s.state.refreshTokens {
		if g.user == name {
			delete(s.state.refreshTokens, rt)
		}
	}
}
