package entra_test

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/entra"
)

func browserCredential(t *testing.T, s *entra.Server) *azidentity.InteractiveBrowserCredential {
	t.Helper()
	o := s.BrowserOptions(tenant, "browser-client")
	o.DisableAutomaticAuthentication = true
	cred, err := azidentity.NewInteractiveBrowserCredential(o)
	require.NoError(t, err)
	return cred
}

func TestInteractiveBrowser(t *testing.T) {
	s := start(t)
	require.NoError(t, entra.InstallFakeBrowser(t))
	s.RegisterUser(tenant, "ivan@contoso.test", "oid-ivan")
	s.SetSignedInUser("ivan@contoso.test")
	cred := browserCredential(t, s)

	_, err := cred.GetToken(ctx(t), tro(sqlScope))
	var are *azidentity.AuthenticationRequiredError
	require.ErrorAs(t, err, &are)

	rec, err := cred.Authenticate(ctx(t), &are.TokenRequestOptions)
	require.NoError(t, err)
	assert.Equal(t, entra.HomeAccountID(tenant, "oid-ivan"), rec.HomeAccountID)
	tk, err := cred.GetToken(ctx(t), tro(sqlScope))
	require.NoError(t, err)
	c, err := s.Verify(tk.Token, sqlAud)
	require.NoError(t, err)
	assert.Equal(t, "ivan@contoso.test", c.UPN)
	assert.Equal(t, "browser-client", c.AppID)
	assert.Equal(t, 1, s.Issued("ivan@contoso.test"))
}

func TestInteractiveBrowserDenied(t *testing.T) {
	s := start(t)
	require.NoError(t, entra.InstallFakeBrowser(t))
	cred := browserCredential(t, s) // nobody signed in
	_, err := cred.Authenticate(ctx(t), &policy.TokenRequestOptions{Scopes: []string{sqlScope}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no user is signed in")
	assert.Equal(t, 0, s.TotalIssued())
}

// authorize runs the authorize endpoint with a redirect to a capture server
// and returns the code it posted.
func authorize(t *testing.T, s *entra.Server, challenge string) (code, redirect string) {
	t.Helper()
	got := make(chan url.Values, 1)
	capture := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, r.ParseForm())
		got <- r.PostForm
	}))
	t.Cleanup(capture.Close)
	q := url.Values{"client_id": {"pkce-client"}, "redirect_uri": {capture.URL}, "state": {"st"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "scope": {sqlScope}}
	resp, err := s.Client().Get(s.AuthorityHost() + tenant + "/oauth2/v2.0/authorize?" + q.Encode())
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	form := <-got
	require.Equal(t, "st", form.Get("state"))
	require.NotEmpty(t, form.Get("code"), "form: %v", form)
	return form.Get("code"), capture.URL
}

func redeem(t *testing.T, s *entra.Server, code, verifier, redirect string) int {
	t.Helper()
	resp, err := s.Client().PostForm(s.TokenEndpoint(tenant), url.Values{
		"grant_type": {"authorization_code"}, "client_id": {"pkce-client"}, "code": {code},
		"code_verifier": {verifier}, "redirect_uri": {redirect}, "scope": {sqlScope + " openid offline_access"},
	})
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func TestAuthorizationCodePKCE(t *testing.T) {
	s := start(t)
	s.RegisterUser(tenant, "judy@contoso.test", "oid-judy")
	s.SetSignedInUser("judy@contoso.test")
	verifier := "a-verifier-of-enough-length-0123456789-abcdefghij"
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])

	code, redirect := authorize(t, s, challenge)
	assert.Equal(t, http.StatusBadRequest, redeem(t, s, code, "wrong-verifier", redirect))
	assert.Equal(t, http.StatusBadRequest, redeem(t, s, code, verifier, redirect), "a code is single use")

	code, redirect = authorize(t, s, challenge)
	assert.Equal(t, http.StatusBadRequest, redeem(t, s, code, verifier, redirect+"/other"))
	code, redirect = authorize(t, s, challenge)
	assert.Equal(t, http.StatusOK, redeem(t, s, code, verifier, redirect))
	assert.Equal(t, 1, s.Issued("judy@contoso.test"))

	// Codes are only ever posted to loopback.
	for _, bad := range []string{"https://127.0.0.1:1/", "http://evil.example:80/", "http://127.0.0.1/", "http://user@localhost:1/"} {
		q := url.Values{"redirect_uri": {bad}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}, "client_id": {"c"}}
		resp, err := s.Client().Get(s.AuthorityHost() + tenant + "/oauth2/v2.0/authorize?" + q.Encode())
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, bad)
	}
}
