package entra

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
)

// TestRefreshTokensAreBounded: every user grant issued a refresh token and
// none was ever dropped but by RevokeRefreshTokens, so a client redeeming
// refresh tokens in a loop grew the server without limit. At
// maxRefreshTokens live, issuing one revokes the oldest; a redeemed token
// stays valid until then.
func TestRefreshTokensAreBounded(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.RegisterUser("t1", "u@contoso.test", "oid-u")
	mux := s.authorityMux()
	redeem := func(rt string) (string, int) {
		form := url.Values{"grant_type": {"refresh_token"}, "client_id": {"c"}, "refresh_token": {rt},
			"scope": {"https://database.windows.net/.default offline_access"}}
		status, resp := postFormJSON(t, mux, "/t1/oauth2/v2.0/token", form.Encode())
		next, _ := resp["refresh_token"].(string)
		return next, status
	}
	live := func() int {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.state.refreshTokens)
	}

	// The server is full, the newest token being "start".
	s.mu.Lock()
	for i := range maxRefreshTokens - 1 {
		s.state.refreshSeq++
		s.state.refreshTokens["filler"+strconv.Itoa(i)] = refreshGrant{user: "u@contoso.test", clientID: "c", seq: s.state.refreshSeq}
	}
	s.state.refreshSeq++
	s.state.refreshTokens["start"] = refreshGrant{user: "u@contoso.test", clientID: "c", seq: s.state.refreshSeq}
	s.mu.Unlock()

	rt, chain := "start", []string{}
	for i := range 2 * maxRefreshTokens {
		next, code := redeem(rt)
		if code != http.StatusOK || next == "" {
			t.Fatalf("redemption %d: status %d, refresh token %q", i, code, next)
		}
		if n := live(); n > maxRefreshTokens {
			t.Fatalf("after %d redemptions: %d live refresh tokens, want at most %d", i+1, n, maxRefreshTokens)
		}
		rt, chain = next, append(chain, next)
	}
	if n := live(); n != maxRefreshTokens {
		t.Errorf("live refresh tokens: %d, want %d", n, maxRefreshTokens)
	}
	if _, code := redeem("filler0"); code != http.StatusBadRequest {
		t.Errorf("the oldest refresh token, pushed out: status %d, want 400", code)
	}
	// An already redeemed token among the newest is still valid.
	if _, code := redeem(chain[len(chain)-10]); code != http.StatusOK {
		t.Errorf("a redeemed refresh token among the newest: status %d, want 200", code)
	}
}
