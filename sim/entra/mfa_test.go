package entra_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/entra"
)

// With RequireMFA on for a user, azidentity's on-behalf-of exchange of a
// token of that user without MFA is refused as Entra refuses it (400,
// interaction_required, AADSTS50076, a claims challenge naming the policy);
// a token with MFA, another user's, or any token once the policy is off, is
// exchanged.
func TestRequireMFARefusesExchangesWithoutMFAWithAClaimsChallenge(t *testing.T) {
	es := start(t)
	es.RegisterApp(tenant, "api", "api-secret", "oid-api")
	es.RegisterUser(tenant, "carol@contoso.example", "oid-carol")
	es.RegisterUser(tenant, "dave@contoso.example", "oid-dave")
	es.RequireMFA("Carol@Contoso.example", true)
	exchange := func(upn string, mfa bool) error {
		t.Helper()
		tok, err := es.UserToken(upn, "api", time.Hour)
		if mfa {
			tok, err = es.UserTokenWithMFA(upn, "api", time.Hour)
		}
		require.NoError(t, err)
		cred, err := azidentity.NewOnBehalfOfCredentialWithSecret(tenant, "api", tok, "api-secret", es.OnBehalfOfOptions())
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err = cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{sqlScope}})
		return err
	}

	err := exchange("carol@contoso.example", false)
	var afe *azidentity.AuthenticationFailedError
	require.True(t, errors.As(err, &afe), "%v", err)
	assert.Equal(t, 400, afe.RawResponse.StatusCode)
	raw, perr := runtime.Payload(afe.RawResponse)
	require.NoError(t, perr)
	var body struct {
		Error, Claims string
		Codes         []int `json:"error_codes"`
	}
	require.NoError(t, json.Unmarshal(raw, &body))
	assert.Equal(t, "interaction_required", body.Error)
	assert.Equal(t, []int{50076}, body.Codes)
	assert.JSONEq(t, `{"access_token":{"capolids":{"essential":true,"values":["`+entra.MFAPolicyID+`"]}}}`, body.Claims)
	assert.Zero(t, es.Exchanges())

	require.NoError(t, exchange("carol@contoso.example", true), "a token with MFA")
	require.NoError(t, exchange("dave@contoso.example", false), "another user")
	es.RequireMFA("carol@contoso.example", false)
	require.NoError(t, exchange("carol@contoso.example", false), "the policy is off")
	assert.Equal(t, 3, es.Exchanges())
}
