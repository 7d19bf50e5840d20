package entra_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/entra"
)

func TestManagedIdentityUserAssigned(t *testing.T) {
	s := start(t)
	s.SetManagedIdentityEnv(t)
	mi := unique("mi-user-assigned-1") // fresh per run: MSAL's MI cache is process-wide
	s.RegisterManagedIdentity(mi, "oid-mi-1")

	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
		ClientOptions: s.ClientOptions(), ID: azidentity.ClientID(mi),
	})
	require.NoError(t, err)
	tk, err := cred.GetToken(ctx(t), tro(sqlScope))
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(entra.DefaultLifetime), tk.ExpiresOn, 5*time.Second)

	c, err := s.Verify(tk.Token, sqlAud)
	require.NoError(t, err)
	assert.Equal(t, "oid-mi-1", c.ObjectID)
	assert.Equal(t, mi, c.AppID)
	assert.Equal(t, s.Tenant(), c.TenantID)
	assert.Equal(t, "app", c.IdentityType)
	assert.Equal(t, []string{sqlAud}, []string(c.Audience))
	assert.Equal(t, 1, s.Issued(mi))

	// MSAL's cache serves the second call: the server sees no new request.
	again, err := cred.GetToken(ctx(t), tro(sqlScope))
	require.NoError(t, err)
	assert.Equal(t, tk.Token, again.Token)
	assert.Equal(t, 1, s.Issued(mi))
	assert.Equal(t, 1, s.TotalIssued())
}

func TestManagedIdentitySystemAssigned(t *testing.T) {
	s := start(t)
	s.SetManagedIdentityEnv(t)
	s.RegisterManagedIdentity("", "oid-system")
	// A resource no other test or run uses: the MI cache is process-wide.
	aud := "https://" + unique("system-assigned") + ".test.example/"
	scope := aud + ".default"

	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: s.ClientOptions()})
	require.NoError(t, err)
	tk, err := cred.GetToken(ctx(t), tro(scope))
	require.NoError(t, err)
	c, err := s.Verify(tk.Token, aud)
	require.NoError(t, err)
	assert.Equal(t, "oid-system", c.ObjectID)
	assert.Equal(t, 1, s.Issued(entra.SystemAssigned))
}

func TestManagedIdentityUnknownAndWrongHeader(t *testing.T) {
	s := start(t)
	s.SetManagedIdentityEnv(t)
	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
		ClientOptions: s.ClientOptions(), ID: azidentity.ClientID("mi-not-registered"),
	})
	require.NoError(t, err)
	_, err = cred.GetToken(ctx(t), tro(sqlScope))
	require.Error(t, err)
	assert.Equal(t, 0, s.TotalIssued())

	t.Setenv("IDENTITY_HEADER", "wrong")
	s.RegisterManagedIdentity("mi-header-test", "oid-h")
	cred, err = azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
		ClientOptions: s.ClientOptions(), ID: azidentity.ClientID("mi-header-test"),
	})
	require.NoError(t, err)
	_, err = cred.GetToken(ctx(t), tro(sqlScope))
	require.Error(t, err)
	assert.Equal(t, 0, s.TotalIssued())
}

func TestManagedIdentityShortLifetimeIsNotCached(t *testing.T) {
	s := start(t)
	s.SetManagedIdentityEnv(t)
	s.RegisterManagedIdentity("mi-short-lived", "oid-short")
	s.SetLifetime(2 * time.Minute)
	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
		ClientOptions: s.ClientOptions(), ID: azidentity.ClientID("mi-short-lived"),
	})
	require.NoError(t, err)
	first, err := cred.GetToken(ctx(t), tro(sqlScope))
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(2*time.Minute), first.ExpiresOn, 5*time.Second)
	second, err := cred.GetToken(ctx(t), tro(sqlScope))
	require.NoError(t, err)
	// Within MSAL's 5-minute window nothing is cached: a new, different token.
	assert.NotEqual(t, first.Token, second.Token)
	assert.Equal(t, 2, s.Issued("mi-short-lived"))
}

func TestClientSecret(t *testing.T) {
	s := start(t)
	s.RegisterApp(tenant, "app-secret", "s3cret-value", "oid-app")
	opts := &azidentity.ClientSecretCredentialOptions{ClientOptions: s.ClientOptions(), DisableInstanceDiscovery: true}

	cred, err := azidentity.NewClientSecretCredential(tenant, "app-secret", "s3cret-value", opts)
	require.NoError(t, err)
	tk, err := cred.GetToken(ctx(t), tro(sqlScope))
	require.NoError(t, err)
	c, err := s.Verify(tk.Token, sqlScope)
	require.NoError(t, err)
	assert.Equal(t, "oid-app", c.ObjectID)
	assert.Equal(t, "app-secret", c.AppID)
	assert.Equal(t, tenant, c.TenantID)
	assert.Equal(t, s.AuthorityHost()+tenant+"/v2.0", c.Issuer)
	assert.NotEmpty(t, c.ID)

	_, err = cred.GetToken(ctx(t), tro(sqlScope))
	require.NoError(t, err)
	assert.Equal(t, 1, s.Issued("app-secret"), "the second call is served from the credential's cache")

	bad, err := azidentity.NewClientSecretCredential(tenant, "app-secret", "wrong", opts)
	require.NoError(t, err)
	_, err = bad.GetToken(ctx(t), tro(sqlScope))
	var afe *azidentity.AuthenticationFailedError
	require.ErrorAs(t, err, &afe)
	assert.Contains(t, err.Error(), "invalid_client")
	assert.NotContains(t, err.Error(), "wrong")

	other, err := azidentity.NewClientSecretCredential("another-tenant", "app-secret", "s3cret-value", opts)
	require.NoError(t, err)
	_, err = other.GetToken(ctx(t), tro(sqlScope))
	require.Error(t, err, "an app is registered in one tenant only")
	assert.Equal(t, 1, s.TotalIssued())
}

// selfSigned makes an RSA certificate for client certificate credentials.
func selfSigned(t *testing.T, cn string) (*x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert, key
}

func TestClientCertificate(t *testing.T) {
	s := start(t)
	cert, key := selfSigned(t, "app-cert")
	s.RegisterAppCertificate(tenant, "app-cert", cert, "oid-cert")
	opts := &azidentity.ClientCertificateCredentialOptions{ClientOptions: s.ClientOptions(), DisableInstanceDiscovery: true}

	cred, err := azidentity.NewClientCertificateCredential(tenant, "app-cert", []*x509.Certificate{cert}, key, opts)
	require.NoError(t, err)
	tk, err := cred.GetToken(ctx(t), tro(sqlScope))
	require.NoError(t, err)
	c, err := s.Verify(tk.Token, sqlAud)
	require.NoError(t, err)
	assert.Equal(t, "oid-cert", c.ObjectID)

	otherCert, otherKey := selfSigned(t, "intruder")
	bad, err := azidentity.NewClientCertificateCredential(tenant, "app-cert", []*x509.Certificate{otherCert}, otherKey, opts)
	require.NoError(t, err)
	_, err = bad.GetToken(ctx(t), tro(sqlScope))
	require.Error(t, err)
	assert.Equal(t, 1, s.TotalIssued())
}

func TestClientAssertionFederated(t *testing.T) {
	s := start(t)
	s.RegisterFederatedApp(tenant, "app-fed", "system:serviceaccount:ns:app", "oid-fed")
	opts := &azidentity.ClientAssertionCredentialOptions{ClientOptions: s.ClientOptions(), DisableInstanceDiscovery: true}

	cred, err := azidentity.NewClientAssertionCredential(tenant, "app-fed", func(context.Context) (string, error) {
		return s.FederatedAssertion("system:serviceaccount:ns:app"), nil
	}, opts)
	require.NoError(t, err)
	tk, err := cred.GetToken(ctx(t), tro(sqlScope))
	require.NoError(t, err)
	c, err := s.Verify(tk.Token, sqlAud)
	require.NoError(t, err)
	assert.Equal(t, "oid-fed", c.ObjectID)

	bad, err := azidentity.NewClientAssertionCredential(tenant, "app-fed", func(context.Context) (string, error) {
		return s.FederatedAssertion("system:serviceaccount:ns:other"), nil
	}, opts)
	require.NoError(t, err)
	_, err = bad.GetToken(ctx(t), tro(sqlScope))
	require.Error(t, err, "another subject is not federated")

	// An access token is not a federated assertion.
	forged, err := azidentity.NewClientAssertionCredential(tenant, "app-fed", func(context.Context) (string, error) {
		return tk.Token, nil
	}, opts)
	require.NoError(t, err)
	_, err = forged.GetToken(ctx(t), tro(sqlScope))
	require.Error(t, err)
	assert.Equal(t, 1, s.TotalIssued())
}

func TestDeviceCodeSilentThenAuthenticate(t *testing.T) {
	s := start(t)
	s.RegisterUser(tenant, "alice@contoso.test", "oid-alice")
	prompts := 0
	cred, err := azidentity.NewDeviceCodeCredential(&azidentity.DeviceCodeCredentialOptions{
		ClientOptions: s.ClientOptions(), DisableInstanceDiscovery: true, DisableAutomaticAuthentication: true,
		TenantID: tenant, ClientID: "public-client",
		UserPrompt: func(_ context.Context, m azidentity.DeviceCodeMessage) error {
			prompts++
			assert.Contains(t, m.Message, m.UserCode)
			return s.ApproveDeviceCode(m.UserCode, "alice@contoso.test")
		},
	})
	require.NoError(t, err)

	_, err = cred.GetToken(ctx(t), tro(sqlScope))
	var are *azidentity.AuthenticationRequiredError
	require.ErrorAs(t, err, &are)
	assert.Equal(t, 0, s.Requests(), "the silent attempt never reaches the server")

	rec, err := cred.Authenticate(ctx(t), &are.TokenRequestOptions)
	require.NoError(t, err)
	assert.Equal(t, entra.HomeAccountID(tenant, "oid-alice"), rec.HomeAccountID)
	assert.Equal(t, "alice@contoso.test", rec.Username)
	assert.Equal(t, 1, prompts)
	assert.Equal(t, 1, s.Issued("alice@contoso.test"))

	tk, err := cred.GetToken(ctx(t), tro(sqlScope))
	require.NoError(t, err, "silent after Authenticate")
	c, err := s.Verify(tk.Token, sqlAud)
	require.NoError(t, err)
	assert.Equal(t, "alice@contoso.test", c.UPN)
	assert.Equal(t, "user", c.IdentityType)
	assert.Equal(t, "public-client", c.AppID)
	assert.Equal(t, 1, s.Issued("alice@contoso.test"), "served from the cache")

	// Another resource: MSAL redeems the refresh token, silently.
	other, err := cred.GetToken(ctx(t), tro("https://ossrdbms-aad.database.windows.net/.default"))
	require.NoError(t, err)
	_, err = s.Verify(other.Token, "https://ossrdbms-aad.database.windows.net")
	require.NoError(t, err)
	assert.Equal(t, 2, s.Issued("alice@contoso.test"))
	assert.Equal(t, 1, prompts)
}

func TestDeviceCodeAutoApproverAndShortLifetimeRefresh(t *testing.T) {
	s := start(t)
	s.RegisterUser(tenant, "bob@contoso.test", "oid-bob")
	s.SetSignedInUser("bob@contoso.test")
	s.SetLifetime(2 * time.Minute) // inside MSAL's 5-minute window: never cached
	cred, err := azidentity.NewDeviceCodeCredential(&azidentity.DeviceCodeCredentialOptions{
		ClientOptions: s.ClientOptions(), DisableInstanceDiscovery: true, DisableAutomaticAuthentication: true,
		TenantID: tenant, ClientID: "public-client",
		UserPrompt: func(context.Context, azidentity.DeviceCodeMessage) error { return nil },
	})
	require.NoError(t, err)
	scope := tro(sqlScope)
	_, err = cred.Authenticate(ctx(t), &scope)
	require.NoError(t, err)
	first, err := cred.GetToken(ctx(t), scope)
	require.NoError(t, err)
	second, err := cred.GetToken(ctx(t), scope)
	require.NoError(t, err)
	assert.NotEqual(t, first.Token, second.Token, "each silent call redeems the refresh token")
	assert.Equal(t, 3, s.Issued("bob@contoso.test"))
}

func TestFailureSwitch(t *testing.T) {
	s := start(t)
	s.RegisterApp(tenant, "app-flaky", "pw", "oid-flaky")
	s.SetFailing(true)
	cred, err := azidentity.NewClientSecretCredential(tenant, "app-flaky", "pw",
		&azidentity.ClientSecretCredentialOptions{ClientOptions: s.ClientOptions(), DisableInstanceDiscovery: true})
	require.NoError(t, err)
	_, err = cred.GetToken(ctx(t), tro(sqlScope))
	var afe *azidentity.AuthenticationFailedError
	require.True(t, errors.As(err, &afe), "got %v", err)
	require.NotNil(t, afe.RawResponse)
	assert.Equal(t, 500, afe.RawResponse.StatusCode)
	assert.Contains(t, err.Error(), "temporarily_unavailable")
	assert.Equal(t, 1, s.Requests(), "retries are off in ClientOptions")
	assert.Equal(t, 0, s.TotalIssued())

	s.FailWith(400, "invalid_request")
	_, err = cred.GetToken(ctx(t), tro(sqlScope))
	require.ErrorAs(t, err, &afe)
	assert.Equal(t, 400, afe.RawResponse.StatusCode)

	s.SetFailing(false)
	_, err = cred.GetToken(ctx(t), tro(sqlScope))
	require.NoError(t, err)
	assert.Equal(t, 1, s.TotalIssued())

	// The managed-identity endpoint obeys the switch too.
	s.RegisterManagedIdentity("mi-flaky", "oid-mi-flaky")
	s.SetFailing(true)
	status, body := rawMI(t, s, "mi-flaky", "https://flaky.example")
	assert.Equal(t, 400, status)
	assert.Equal(t, "invalid_request", body["error"])
}
