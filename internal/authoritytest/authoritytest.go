// Package authoritytest serves a fake Entra ID authority over https for
// tests that point real azidentity credentials at an endpoint of their own:
// one that refuses some exchanges, or echoes secrets, or answers what MSAL
// cannot parse. It answers OIDC discovery itself and hands every other
// request, the token endpoint's, to the test's handler.
package authoritytest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
)

// Options starts the authority (closed when t ends) and returns the client
// options that send a credential to it. token answers the token endpoint.
// Retries are off, so each request the credential makes reaches token once.
func Options(t testing.TB, token http.HandlerFunc) azcore.ClientOptions {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration") {
			base := srv.URL + "/" + strings.Split(r.URL.Path, "/")[1]
			_ = json.NewEncoder(w).Encode(map[string]string{
				"authorization_endpoint": base + "/oauth2/v2.0/authorize",
				"token_endpoint":         base + "/oauth2/v2.0/token",
				"issuer":                 base + "/v2.0",
			})
			return
		}
		token(w, r)
	}))
	t.Cleanup(srv.Close)
	o := azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: srv.URL + "/"}, Transport: srv.Client()}
	o.Retry.MaxRetries = -1
	return o
}
