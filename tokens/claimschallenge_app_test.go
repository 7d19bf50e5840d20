package tokens_test

import (
	"context"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/internal/authoritytest"
	"github.com/idpool/idpool/tokens"
)

// Only a refused on-behalf-of exchange of the caller's token carries a
// claims challenge to relay. A refusal of the application's own identity
// (a service principal, a managed identity, any credential handed in)
// asks something of the app, not of the user: relayed to whoever called
// the API, that user would sign in again and be refused again, without
// end, and would read the app's conditional-access policies. And a
// credential handed in (CredentialSource) holds secrets idpool does not
// know, so a short one its endpoint echoed in the claims would pass every
// check: here a handed-in on-behalf-of credential's 10-character secret.
func TestOnlyOnBehalfOfRefusalsCarryAClaimsChallenge(t *testing.T) {
	const tenant, client, secret = "11111111-2222-4333-8444-555555555555", "api", "short~S3c&"
	echoing := refusingWith(func(_, s string) string {
		return entraRefusal(`{"access_token":{"capolids":{"essential":true,"values":["` + s + `"]}}}`)
	})
	plain := refusingWith(func(string, string) string { return entraRefusal(capClaims) })

	sp, err := tokens.ClientSecretIdentity(tenant, client, secret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: authoritytest.Options(t, plain), DisableInstanceDiscovery: true})
	require.NoError(t, err)

	handed, err := azidentity.NewOnBehalfOfCredentialWithSecret(tenant, client, "user-assertion", secret,
		&azidentity.OnBehalfOfCredentialOptions{ClientOptions: authoritytest.Options(t, echoing), DisableInstanceDiscovery: true})
	require.NoError(t, err)

	for name, src := range map[string]tokens.Source{
		"a service principal":                    sp.Source(),
		"a handed-in credential's echoed secret": tokens.CredentialSource(handed),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := src.Token(context.Background())
			require.Error(t, err)
			ch, ok := tokens.FindClaimsChallenge(err)
			assert.False(t, ok, "relayed %+v", ch)
		})
	}
}
