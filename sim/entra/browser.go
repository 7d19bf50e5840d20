package entra

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// authCodeLifetime is how long an authorization code can be redeemed.
const authCodeLifetime = 5 * time.Minute

// authCode is an issued authorization code awaiting redemption.
type authCode struct {
	user        *principal
	clientID    string
	redirectURI string
	challenge   string // PKCE S256 code challenge
	expiresAt   time.Time
}

// loopbackRedirect accepts only http://localhost:<port> or
// http://127.0.0.1:<port> redirect URIs (what MSAL's public client listens
// on) and returns the URL to post to, on 127.0.0.1: the sim never sends a
// code anywhere else.
func loopbackRedirect(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.User != nil {
		return nil, errors.New("redirect_uri must be a loopback http URL")
	}
	host, port := u.Hostname(), u.Port()
	if (host != "localhost" && host != "127.0.0.1") || port == "" {
		return nil, errors.New("redirect_uri must be a loopback http URL")
	}
	out := *u
	out.Host = net.JoinHostPort("127.0.0.1", port)
	return &out, nil
}

// handleAuthorize is the authorization endpoint, reached by the "browser"
// (see InstallFakeBrowser). The user set by SetSignedInUser signs in at
// once; the code, or an error, is form-posted to the loopback redirect URI
// as response_mode=form_post requires.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	target, err := loopbackRedirect(q.Get("redirect_uri"))
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	reply := url.Values{"state": {q.Get("state")}}
	s.mu.Lock()
	user, signedIn := s.state.users[s.state.approver]
	switch {
	case s.state.failing:
		reply.Set("error", s.state.failCode)
		reply.Set("error_description", "entra sim: the failure switch is on")
	case !signedIn:
		reply.Set("error", "access_denied")
		reply.Set("error_description", "entra sim: no user is signed in (SetSignedInUser)")
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("client_id") == "":
		reply.Set("error", "invalid_request")
		reply.Set("error_description", "entra sim: client_id and an S256 code_challenge are required")
	case !roomFor(s.state.authCodes, time.Now(), func(ac *authCode) time.Time { return ac.expiresAt }):
		reply.Set("error", "temporarily_unavailable")
		reply.Set("error_description", errTooManyPending)
	default:
		code := rand.Text() + rand.Text()
		s.state.authCodes[code] = &authCode{
			user: user, clientID: q.Get("client_id"), redirectURI: q.Get("redirect_uri"),
			challenge: q.Get("code_challenge"), expiresAt: time.Now().Add(authCodeLifetime),
		}
		reply.Set("code", code)
	}
	s.mu.Unlock()

	// Post without holding s.mu: the client may call the token endpoint
	// before this post returns.
	resp, err := s.poster.PostForm(target.String(), reply)
	if err != nil {
		oauthError(w, http.StatusBadGateway, "server_error", "could not reach the redirect URI")
		return
	}
	_ = resp.Body.Close()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = fmt.Fprintln(w, "entra sim: sign-in finished; you may close this window")
}

// authorizationCodeGrant redeems an authorization code with its PKCE
// verifier. Callers hold s.mu.
func (s *Server) authorizationCodeGrant(w http.ResponseWriter, form url.Values) {
	code := form.Get("code")
	ac, ok := s.state.authCodes[code]
	if ok {
		delete(s.state.authCodes, code) // single use, whatever happens next
	}
	sum := sha256.Sum256([]byte(form.Get("code_verifier")))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	switch {
	case !ok || time.Now().After(ac.expiresAt):
		oauthError(w, http.StatusBadRequest, "invalid_grant", "AADSTS70008: the code is unknown or expired")
	case ac.clientID != form.Get("client_id") || ac.redirectURI != form.Get("redirect_uri"):
		oauthError(w, http.StatusBadRequest, "invalid_grant", "AADSTS50148: the code belongs to another client or redirect URI")
	case subtle.ConstantTimeCompare([]byte(challenge), []byte(ac.challenge)) != 1:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "AADSTS50148: the code_verifier does not match the code_challenge")
	default:
		s.userTokens(w, ac.user, ac.clientID, form.Get("scope"))
	}
}

// BrowserEnv is what InstallFakeBrowser needs; *testing.T satisfies it.
type BrowserEnv interface {
	TempDir() string
	Setenv(key, value string)
}

// InstallFakeBrowser puts an xdg-open first on PATH (for the test's
// duration) that fetches the URL it is given with curl, so
// InteractiveBrowserCredential's "browser" reaches this server's authorize
// endpoint and the user set by SetSignedInUser signs in. It needs curl and
// a POSIX shell, as on Linux CI; it fails if curl is missing.
func InstallFakeBrowser(t BrowserEnv) error {
	curl, err := exec.LookPath("curl")
	if err != nil {
		return fmt.Errorf("entra: the fake browser needs curl: %w", err)
	}
	dir := t.TempDir()
	// --insecure: the authority's certificate is self-signed; the URL is the
	// loopback server's own.
	script := "#!/bin/sh\nexec '" + curl + "' --silent --show-error --fail --insecure --max-time 20 --output /dev/null \"$1\"\n"
	if err := os.WriteFile(filepath.Join(dir, "xdg-open"), []byte(script), 0o755); err != nil {
		return fmt.Errorf("entra: writing the fake browser: %w", err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return nil
}
