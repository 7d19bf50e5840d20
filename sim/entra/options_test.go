package entra_test

import (
	"context"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOptionBuilders(t *testing.T) {
	s := start(t)
	s.SetManagedIdentityEnv(t)
	t.Setenv("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential")
	// Fresh names and resources per run: MSAL's MI cache is process-wide.
	miName := unique("mi-builder")
	miAud, dacAud := "https://"+unique("builder-mi")+".example/", "https://"+unique("builder-dac")+".example/"
	s.RegisterManagedIdentity(miName, "oid-mb")
	s.RegisterManagedIdentity("", "oid-builder-sys")
	s.RegisterApp(tenant, "app-builder", "pw", "oid-ab")
	s.RegisterFederatedApp(tenant, "app-fed-builder", "sub", "oid-fb")
	s.RegisterUser(tenant, "kim@contoso.test", "oid-kim")

	mi, err := azidentity.NewManagedIdentityCredential(s.ManagedIdentityOptions(azidentity.ClientID(miName)))
	require.NoError(t, err)
	sp, err := azidentity.NewClientSecretCredential(tenant, "app-builder", "pw", s.SecretOptions())
	require.NoError(t, err)
	fed, err := azidentity.NewClientAssertionCredential(tenant, "app-fed-builder",
		func(context.Context) (string, error) { return s.FederatedAssertion("sub"), nil }, s.AssertionOptions())
	require.NoError(t, err)
	dac, err := azidentity.NewDefaultAzureCredential(s.DefaultOptions())
	require.NoError(t, err)

	for _, c := range []struct {
		name  string
		cred  azcore.TokenCredential
		scope string
		oid   string
	}{
		{"managed identity", mi, miAud + ".default", "oid-mb"},
		{"client secret", sp, sqlScope, "oid-ab"},
		{"client assertion", fed, sqlScope, "oid-fb"},
		{"default chain", dac, dacAud + ".default", "oid-builder-sys"},
	} {
		tk, err := c.cred.GetToken(ctx(t), tro(c.scope))
		require.NoError(t, err, c.name)
		claims, err := s.Verify(tk.Token, c.scope)
		require.NoError(t, err, c.name)
		assert.Equal(t, c.oid, claims.ObjectID, c.name)
	}

	// Device code: fails at once with nobody signed in, works once someone is.
	dc, err := azidentity.NewDeviceCodeCredential(s.DeviceCodeOptions(tenant, "cli"))
	require.NoError(t, err)
	scope := tro(sqlScope)
	_, err = dc.Authenticate(ctx(t), &scope)
	require.ErrorContains(t, err, "no signed-in user")
	s.SetSignedInUser("kim@contoso.test")
	rec, err := dc.Authenticate(ctx(t), &scope)
	require.NoError(t, err)
	assert.Equal(t, "oid-kim."+tenant, rec.HomeAccountID)
}
