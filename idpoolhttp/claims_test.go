package idpoolhttp_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/idpoolhttp"
	"github.com/idpool/idpool/internal/authoritytest"
	"github.com/idpool/idpool/tokens"
)

const stepUpClaims = `{"access_token":{"acrs":{"essential":true,"value":"c1"}}}`

// mintRefusedWith is the error of an on-behalf-of mint that a token
// endpoint refuses with body.
func mintRefusedWith(t *testing.T, body string) error {
	t.Helper()
	opts := authoritytest.Options(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, body)
	})
	app, err := tokens.NewOnBehalfOfSecret("contoso.example", "api", "app-secret",
		&azidentity.OnBehalfOfCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	require.NoError(t, err)
	id, err := app.Identity(tokens.Principal{TenantID: "t", ObjectID: "carol"}, "carols-assertion")
	require.NoError(t, err)
	_, err = id.Source().Token(context.Background())
	require.Error(t, err)
	return err
}

// A handler whose database work failed on a claims challenge answers 401
// with the challenge in the form RFC 6750 and Entra's client libraries
// read: Bearer, the authorize endpoint beside the token endpoint that
// refused, error="insufficient_claims", and the claims in base64.
func TestAnswerClaimsChallengeWritesTheChallengeForTheClient(t *testing.T) {
	err := mintRefusedWith(t, `{"error":"interaction_required","error_description":"AADSTS50076: MFA","error_codes":[50076],"claims":"{\"access_token\":{\"acrs\":{\"essential\":true,\"value\":\"c1\"}}}"}`)
	rec := httptest.NewRecorder()
	require.True(t, idpoolhttp.AnswerClaimsChallenge(rec, fmt.Errorf("querying orders: %w", err)))
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	header := rec.Header().Get("WWW-Authenticate")
	m := regexp.MustCompile(`^Bearer realm="", authorization_uri="(https://127\.0\.0\.1:[0-9]+/contoso\.example/oauth2/v2\.0/authorize)", error="insufficient_claims", claims="([A-Za-z0-9+/=]+)"$`).FindStringSubmatch(header)
	require.NotNil(t, m, "WWW-Authenticate: %s", header)
	claims, derr := base64.StdEncoding.DecodeString(m[2])
	require.NoError(t, derr)
	assert.Equal(t, stepUpClaims, string(claims))
	assert.NotContains(t, rec.Body.String(), "acrs", "the body is for people; the claims are in the header")
}

// Any other error, nil included, and a refusal with no claims to relay,
// is left to the handler: nothing is written.
func TestAnswerClaimsChallengeLeavesOtherErrorsAlone(t *testing.T) {
	for name, err := range map[string]error{
		"nil":                nil,
		"plain":              errors.New(`AADSTS50076 claims="{}"`),
		"ctx":                context.DeadlineExceeded,
		"refused, no claims": mintRefusedWith(t, `{"error":"invalid_grant","error_description":"AADSTS50013: bad assertion","error_codes":[50013]}`),
		"echoed assertion":   mintRefusedWith(t, `{"error":"interaction_required","claims":"{\"access_token\":{\"hint\":\"carols-assertion\"}}"}`),
	} {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			assert.False(t, idpoolhttp.AnswerClaimsChallenge(rec, err))
			assert.False(t, rec.Flushed)
			assert.Empty(t, rec.Header())
			assert.Zero(t, rec.Body.Len())
		})
	}
}
