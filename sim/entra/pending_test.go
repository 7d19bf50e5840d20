package entra

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPendingCodesAreBounded: every POST to the device code endpoint, for
// any client id, left a device code behind until it was redeemed or polled
// after it expired, and every authorize request left an authorization code,
// so a client that asked and never came back grew the server without limit.
// At maxPending outstanding codes the expired ones are dropped, and if none
// is, the request is refused.
func TestPendingCodesAreBounded(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mux := s.authorityMux()
	askDeviceCode := func() int {
		body := "client_id=any&scope=" + url.QueryEscape("https://database.windows.net/.default")
		req := httptest.NewRequest(http.MethodPost, "/t1/oauth2/v2.0/devicecode", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec.Code
	}
	fill := func(expiresAt time.Time) {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i := range maxPending {
			s.state.deviceCodes["filler"+strconv.Itoa(i)] = &deviceCode{clientID: "any", expiresAt: expiresAt}
			s.state.authCodes["filler"+strconv.Itoa(i)] = &authCode{clientID: "any", expiresAt: expiresAt}
		}
	}
	sizes := func() (int, int) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.state.deviceCodes), len(s.state.authCodes)
	}

	// The redirect target of the authorize endpoint: it records the reply.
	replies := make(chan url.Values, 1)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		replies <- r.PostForm
	}))
	defer redirect.Close()
	s.RegisterUser("t1", "u@contoso.test", "oid-u")
	s.SetSignedInUser("u@contoso.test")
	authorize := func() url.Values {
		q := url.Values{"redirect_uri": {redirect.URL}, "client_id": {"any"}, "code_challenge_method": {"S256"}, "code_challenge": {"c"}}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/t1/oauth2/v2.0/authorize?"+q.Encode(), nil))
		return <-replies
	}

	fill(time.Now().Add(time.Hour))
	if code := askDeviceCode(); code != http.StatusServiceUnavailable {
		t.Errorf("device code request at %d outstanding: status %d, want 503", maxPending, code)
	}
	if got := authorize(); got.Get("error") != "temporarily_unavailable" || got.Get("code") != "" {
		t.Errorf("authorize at %d outstanding: %v, want temporarily_unavailable", maxPending, got)
	}
	if d, a := sizes(); d != maxPending || a != maxPending {
		t.Errorf("outstanding codes: %d device, %d authorization, want at most %d", d, a, maxPending)
	}

	fill(time.Now().Add(-time.Second)) // all expired: dropped to make room
	if code := askDeviceCode(); code != http.StatusOK {
		t.Errorf("device code request with expired codes outstanding: status %d", code)
	}
	if got := authorize(); got.Get("code") == "" {
		t.Errorf("authorize with expired codes outstanding: %v", got)
	}
	if d, a := sizes(); d != 1 || a != 1 {
		t.Errorf("outstanding codes after the expired were dropped: %d device, %d authorization, want 1 and 1", d, a)
	}
}
