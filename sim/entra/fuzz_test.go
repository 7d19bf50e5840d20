package entra

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzTokenEndpoint feeds arbitrary form bodies to the token endpoint: it must
// answer JSON, and only a request carrying the registered secret may succeed.
func FuzzTokenEndpoint(f *testing.F) {
	s, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.Close)
	s.RegisterApp("t1", "app1", "s3cret", "oid1")
	mux := s.authorityMux()
	f.Add("grant_type=client_credentials&client_id=app1&client_secret=s3cret&scope=https%3A%2F%2Fdatabase.windows.net%2F.default+openid")
	f.Add("grant_type=client_credentials&client_id=app1&client_secret=wrong&scope=x%2F.default")
	f.Add("grant_type=client_credentials&client_id=app1&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=a.b.c&scope=x%2F.default")
	f.Add("grant_type=device_code&device_code=abc&client_id=app1&scope=s")
	f.Add("grant_type=refresh_token&refresh_token=abc&client_id=app1&scope=s")
	f.Add("grant_type=authorization_code&code=abc&code_verifier=v&client_id=app1&redirect_uri=http%3A%2F%2Flocalhost%3A1&scope=s")
	f.Add("%zz&&==;")
	f.Add("")
	f.Fuzz(func(t *testing.T, body string) {
		code, out := postFormJSON(t, mux, "/t1/oauth2/v2.0/token", body)
		if code == http.StatusOK {
			form, err := url.ParseQuery(body)
			if err != nil || form.Get("client_secret") != "s3cret" {
				t.Fatalf("issued a token without the secret for body %q", body)
			}
			if _, err := s.Verify(out["access_token"].(string), audienceOf(mustScope(t, form.Get("scope")))); err != nil {
				t.Fatalf("issued a token that does not verify: %v", err)
			}
		}
	})
}

func mustScope(t *testing.T, scope string) string {
	r, ok := resourceScope(scope)
	if !ok {
		t.Fatalf("issued a token for scope parameter %q", scope)
	}
	return r
}

// FuzzManagedIdentity feeds arbitrary query strings to the managed-identity
// endpoint: only the registered identity, with a resource, gets a token.
func FuzzManagedIdentity(f *testing.F) {
	s, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.Close)
	s.RegisterManagedIdentity("mi1", "oid1")
	f.Add("api-version=2019-08-01&resource=https%3A%2F%2Fdatabase.windows.net&client_id=mi1")
	f.Add("api-version=2019-08-01&resource=r&object_id=oid1")
	f.Add("api-version=2019-08-01&resource=r")
	f.Add("api-version=2019-08-01&resource=r&mi_res_id=x")
	f.Add("%gg")
	f.Fuzz(func(t *testing.T, query string) {
		req := httptest.NewRequest(http.MethodGet, "/msi/token", nil)
		req.URL.RawQuery = query
		req.Header.Set("X-IDENTITY-HEADER", s.MIHeader())
		rec := httptest.NewRecorder()
		s.serveManagedIdentity(rec, req)
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("status %d: not JSON: %v", rec.Code, err)
		}
		if rec.Code != http.StatusOK {
			return
		}
		c, err := s.Verify(out["access_token"].(string), audienceOf(req.URL.Query().Get("resource")))
		if err != nil || c.ObjectID != "oid1" {
			t.Fatalf("query %q: token for %q, err %v", query, c.ObjectID, err)
		}
	})
}

// FuzzVerify: Verify never panics, and whatever it accepts carries the claims
// of the one token the server issued (the fuzzer cannot forge a signature).
func FuzzVerify(f *testing.F) {
	s, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.Close)
	s.RegisterManagedIdentity("mi1", "oid1")
	s.mu.Lock()
	tok, err := s.accessToken(s.state.managed["mi1"], "https://database.windows.net/", "")
	s.mu.Unlock()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok.token, "https://database.windows.net/")
	f.Add(tok.token, "https://other/")
	f.Add(s.FederatedAssertion("x"), FederatedAudience)
	f.Add("a.b.c", "")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, token, audience string) {
		c, err := s.Verify(token, audience)
		if err == nil && (c.ObjectID != "oid1" || c.Generation != 0) {
			t.Fatalf("accepted a token the server did not issue: %+v", c)
		}
	})
}

// FuzzDeviceCodeEndpoint feeds arbitrary form bodies to the device code
// endpoint: it must answer JSON, and a device code only for a request with a
// client id and one resource scope.
func FuzzDeviceCodeEndpoint(f *testing.F) {
	s, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.Close)
	mux := s.authorityMux()
	f.Add("client_id=app1&scope=https%3A%2F%2Fdatabase.windows.net%2F.default+offline_access")
	f.Add("client_id=&scope=x%2F.default")
	f.Add("client_id=app1&scope=a%2F.default+b%2F.default")
	f.Add("%zz&&==;")
	f.Fuzz(func(t *testing.T, body string) {
		code, _ := postFormJSON(t, mux, "/t1/oauth2/v2.0/devicecode", body)
		if code == http.StatusOK {
			form, err := url.ParseQuery(body)
			if err != nil || form.Get("client_id") == "" {
				t.Fatalf("a device code for body %q", body)
			}
			mustScope(t, form.Get("scope"))
		}
	})
}

// postFormJSON posts body as a form to path on mux and returns the status
// and the JSON object it answered, failing t if the answer is not JSON:
// every answer of the endpoints fuzzed here, an error too, must be.
func postFormJSON(t *testing.T, mux http.Handler, path, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("status %d: not JSON: %v", rec.Code, err)
	}
	return rec.Code, out
}
