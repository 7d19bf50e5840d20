package entra

import (
	"strings"
	"time"
)

// SetLifetime sets the lifetime of access tokens issued from now on. MSAL
// never caches a token with 5 minutes or less to live, so a short lifetime
// makes every GetToken go to the server.
func (s *Server) SetLifetime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.lifetime = d
}

// SetRefreshIn makes token responses carry refresh_in (d > 0), after which
// MSAL refreshes the token proactively; 0 leaves it out.
func (s *Server) SetRefreshIn(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.refreshIn = d
}

// SetReuse chooses what a repeated request for the same identity and audience
// gets: false (the default) mints a new token every time; true hands back the
// previous token until half its lifetime has passed or Rotate is called.
func (s *Server) SetReuse(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.reuse = on
	clear(s.state.reused)
}

// Rotate makes the next token for the named identity (client id,
// SystemAssigned or UPN) a new one even under SetReuse, and bumps the
// generation carried in its tokens' sim_gen claim.
func (s *Server) Rotate(name string) {
	name = strings.ToLower(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.generation[name]++
	for k := range s.state.reused {
		if n, _, _ := strings.Cut(k, "\x00"); n == name {
			delete(s.state.reused, k)
		}
	}
}

// SetFailing turns the failure switch: while on, every token request (both
// endpoints, every grant) fails with HTTP 500 and an OAuth error body
// {"error":"temporarily_unavailable"}, or what FailWith chose.
func (s *Server) SetFailing(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.failing = on
}

// FailWith chooses the status and OAuth error code of SetFailing's failures,
// e.g. 400 and "invalid_request" for a failure azcore does not retry.
func (s *Server) FailWith(status int, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.failStatus, s.state.failCode = status, code
}

// Issued counts the access tokens minted for the named identity (client id,
// SystemAssigned or UPN, case-insensitive). Reused tokens are not counted.
func (s *Server) Issued(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.issued[strings.ToLower(name)]
}

// TotalIssued counts all access tokens minted.
func (s *Server) TotalIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.total
}

// Requests counts the token requests received (both endpoints, every grant,
// including the failed ones and device-code polls).
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.requests
}
