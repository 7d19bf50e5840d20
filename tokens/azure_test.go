package tokens_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/entra"
	"github.com/idpool/idpool/tokens"
)

// mintAndVerify gets a token from id and checks it at the local Entra ID,
// returning its claims.
func mintAndVerify(t *testing.T, s *entra.Server, id tokens.Identity, audience string) (tokens.Token, entra.Claims) {
	t.Helper()
	require.NoError(t, id.Validate())
	tok, err := id.Source().Token(testCtx(t))
	require.NoError(t, err)
	assert.True(t, tok.ValidBeyond(time.Now(), 30*time.Minute), "the expiry is carried over")
	c, err := s.Verify(tok.Value, audience)
	require.NoError(t, err)
	return tok, c
}

// unique names a managed identity or resource afresh for each run of a test:
// MSAL caches managed-identity tokens process-wide, so a second run
// (-count=2) would otherwise get a token of the first run's Entra.
func unique(name string) string { return name + "-" + strings.ToLower(rand.Text()[:10]) }

func discriminator(t *testing.T, id tokens.Identity) string {
	t.Helper()
	d, err := id.Discriminator(testCtx(t))
	require.NoError(t, err)
	return d
}

func TestSystemAssignedIdentity(t *testing.T) {
	s := startEntra(t)
	s.SetManagedIdentityEnv(t)
	s.RegisterManagedIdentity("", "oid-sys")
	// A resource of its own, fresh per run: MSAL's managed-identity cache is
	// process-wide and would serve a token of an earlier run's Entra.
	sys := "https://" + unique("sys") + ".tokens.test/"
	id, err := tokens.SystemAssignedIdentity(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: s.ClientOptions()},
		tokens.WithScope(sys+".default"))
	require.NoError(t, err)
	assert.Equal(t, tokens.KindManagedIdentity, id.Kind())
	assert.Equal(t, "msi:system", discriminator(t, id))
	assert.Equal(t, 0, s.Requests(), "the key costs no token")
	_, c := mintAndVerify(t, s, id, sys)
	assert.Equal(t, "oid-sys", c.ObjectID)

	_, err = tokens.SystemAssignedIdentity(&azidentity.ManagedIdentityCredentialOptions{ID: azidentity.ClientID("x")})
	require.Error(t, err)
}

func TestUserAssignedIdentity(t *testing.T) {
	s := startEntra(t)
	s.SetManagedIdentityEnv(t)
	mi1 := unique("Tokens-MI-1") // fresh per run: MSAL's MI cache is process-wide
	s.RegisterManagedIdentity(mi1, "oid-ua")
	o := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: s.ClientOptions()}

	id, err := tokens.UserAssignedIdentity(azidentity.ClientID(mi1), o)
	require.NoError(t, err)
	assert.Equal(t, "msi:"+strings.ToLower(mi1), discriminator(t, id), "client ids are case-insensitive GUIDs")
	assert.Nil(t, o.ID, "the caller's options are not modified")
	_, c := mintAndVerify(t, s, id, sqlAud)
	assert.Equal(t, "oid-ua", c.ObjectID)
	assert.Equal(t, 1, s.Issued(strings.ToLower(mi1)))

	// Postgres scope: a different audience, and a new token.
	pg, err := tokens.UserAssignedIdentity(azidentity.ClientID(mi1), o, tokens.WithScope(tokens.ScopePostgreSQL))
	require.NoError(t, err)
	mintAndVerify(t, s, pg, pgAud)
	assert.Equal(t, 2, s.Issued(strings.ToLower(mi1)))

	byObject, err := tokens.UserAssignedIdentity(azidentity.ObjectID("OID-UA"), o)
	require.NoError(t, err)
	assert.Equal(t, "msi:object:oid-ua", discriminator(t, byObject))
	byResource, err := tokens.UserAssignedIdentity(azidentity.ResourceID("/subscriptions/s/rg/x"), o)
	require.NoError(t, err)
	assert.Equal(t, "msi:resource:%2fsubscriptions%2fs%2frg%2fx", discriminator(t, byResource), "separators are escaped")

	for name, bad := range map[string]azidentity.ManagedIDKind{
		"nil": nil, "empty": azidentity.ClientID(""), "system": azidentity.ClientID("System"),
	} {
		_, err := tokens.UserAssignedIdentity(bad, o)
		assert.ErrorIs(t, err, tokens.ErrInvalidIdentity, name)
	}
	// A client id that looks like another form is escaped, never confused.
	colon, err := tokens.UserAssignedIdentity(azidentity.ClientID("object:oid-ua"), o)
	require.NoError(t, err)
	assert.Equal(t, "msi:object%3aoid-ua", discriminator(t, colon))
	assert.NotEqual(t, discriminator(t, byObject), discriminator(t, colon))
	_, err = tokens.UserAssignedIdentity(azidentity.ClientID("a"), &azidentity.ManagedIdentityCredentialOptions{ID: azidentity.ClientID("b")})
	assert.Error(t, err)
}

func TestClientSecretIdentity(t *testing.T) {
	s := startEntra(t)
	s.RegisterApp(tenant, "app-1", "pw-1", "oid-app-1")
	o := &azidentity.ClientSecretCredentialOptions{ClientOptions: s.ClientOptions(), DisableInstanceDiscovery: true}

	id, err := tokens.ClientSecretIdentity(strings.ToUpper(tenant), "APP-1", "pw-1", o)
	require.NoError(t, err)
	assert.Equal(t, tokens.KindServicePrincipal, id.Kind())
	assert.Equal(t, "sp:"+tenant+"/app-1", discriminator(t, id))
	assert.Equal(t, 0, s.Requests())
	first, c := mintAndVerify(t, s, id, sqlAud)
	assert.Equal(t, "oid-app-1", c.ObjectID)

	again, err := id.Source().Token(testCtx(t))
	require.NoError(t, err)
	assert.Equal(t, first.Value, again.Value, "the credential's cache serves a token with over 5 minutes left")
	assert.Equal(t, 1, s.Issued("app-1"))

	for name, args := range map[string][3]string{
		"tenant id": {"", "c", "pw"}, "client id": {"t", "", "pw"}, "client secret": {"t", "c", ""},
	} {
		id, err := tokens.ClientSecretIdentity(args[0], args[1], args[2], o)
		assert.ErrorIs(t, err, tokens.ErrInvalidIdentity, name)
		assert.ErrorContains(t, err, "empty "+name)
		assert.ErrorIs(t, id.Validate(), tokens.ErrInvalidIdentity, "a failed constructor returns the zero Identity")
	}
	// azidentity refuses a tenant id it cannot put in a URL.
	_, err = tokens.ClientSecretIdentity("a/b", "c", "pw", o)
	assert.Error(t, err)
}

func TestServicePrincipalRotationAndFailure(t *testing.T) {
	s := startEntra(t)
	s.RegisterApp(tenant, "app-rot", "pw", "oid-rot")
	s.SetLifetime(2 * time.Minute) // inside MSAL's window: every call goes to the server
	id, err := tokens.ClientSecretIdentity(tenant, "app-rot", "pw",
		&azidentity.ClientSecretCredentialOptions{ClientOptions: s.ClientOptions(), DisableInstanceDiscovery: true})
	require.NoError(t, err)

	a, err := id.Source().Token(testCtx(t))
	require.NoError(t, err)
	b, err := id.Source().Token(testCtx(t))
	require.NoError(t, err)
	assert.NotEqual(t, a.Value, b.Value, "a rotated token is visible to the pool")
	assert.NotEqual(t, a.Fingerprint(), b.Fingerprint())
	assert.False(t, b.ValidBeyond(time.Now(), 5*time.Minute))
	assert.Equal(t, 2, s.Issued("app-rot"))

	s.SetFailing(true)
	_, err = id.Source().Token(testCtx(t))
	var afe *azidentity.AuthenticationFailedError
	require.ErrorAs(t, err, &afe, "azidentity's error stays reachable")
	assert.NotContains(t, err.Error(), b.Value)
	assert.Equal(t, 2, s.Issued("app-rot"))
	s.SetFailing(false)
	_, err = id.Source().Token(testCtx(t))
	require.NoError(t, err)
	assert.Equal(t, 3, s.Issued("app-rot"))
}

func TestClientCertificateIdentity(t *testing.T) {
	s := startEntra(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "app-cert"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	s.RegisterAppCertificate(tenant, "app-cert", cert, "oid-cert")

	id, err := tokens.ClientCertificateIdentity(tenant, "app-cert", []*x509.Certificate{cert}, key,
		&azidentity.ClientCertificateCredentialOptions{ClientOptions: s.ClientOptions(), DisableInstanceDiscovery: true})
	require.NoError(t, err)
	assert.Equal(t, "sp:"+tenant+"/app-cert", discriminator(t, id))
	_, c := mintAndVerify(t, s, id, sqlAud)
	assert.Equal(t, "oid-cert", c.ObjectID)

	_, err = tokens.ClientCertificateIdentity(tenant, "app-cert", nil, key, nil)
	require.Error(t, err, "azidentity's own validation is surfaced")
}

func TestClientAssertionIdentity(t *testing.T) {
	s := startEntra(t)
	s.RegisterFederatedApp(tenant, "app-fed", "repo:idpool:ci", "oid-fed")
	id, err := tokens.ClientAssertionIdentity(tenant, "app-fed",
		func(context.Context) (string, error) { return s.FederatedAssertion("repo:idpool:ci"), nil },
		&azidentity.ClientAssertionCredentialOptions{ClientOptions: s.ClientOptions(), DisableInstanceDiscovery: true})
	require.NoError(t, err)
	assert.Equal(t, "sp:"+tenant+"/app-fed", discriminator(t, id))
	_, c := mintAndVerify(t, s, id, sqlAud)
	assert.Equal(t, "oid-fed", c.ObjectID)
}

func TestDefaultCredentialIdentityIsTokenKeyed(t *testing.T) {
	s := startEntra(t)
	s.SetManagedIdentityEnv(t)
	t.Setenv("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential")
	s.RegisterManagedIdentity("", "oid-dac")
	dac := "https://" + unique("dac") + ".tokens.test/" // fresh per run, as in TestSystemAssignedIdentity
	id, err := tokens.DefaultCredentialIdentity(&azidentity.DefaultAzureCredentialOptions{ClientOptions: s.ClientOptions()},
		tokens.WithScope(dac+".default"))
	require.NoError(t, err)
	assert.Equal(t, tokens.KindDefaultCredential, id.Kind())
	assert.Contains(t, id.String(), "key unresolved")

	d := discriminator(t, id)
	// Keyed on the hash of the first whole token (its claims are unverified),
	// cached on the identity, so rotation keeps the pool.
	first, err := id.Source().Token(testCtx(t))
	require.NoError(t, err)
	sum := sha256.Sum256([]byte(first.Value))
	assert.Equal(t, "dac:"+hex.EncodeToString(sum[:]), d)
	assert.Equal(t, 1, s.Issued(entra.SystemAssigned), "the key cost exactly one token")
	assert.Equal(t, d, discriminator(t, id))
	assert.Equal(t, 1, s.Issued(entra.SystemAssigned), "and only the first time")
	mintAndVerify(t, s, id, dac)
}

// countingCred is a TokenCredential that records what it was asked.
type countingCred struct {
	calls  int
	scopes []string
}

func (c *countingCred) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.calls++
	c.scopes = o.Scopes
	return azcore.AccessToken{Token: "opaque-token", ExpiresOn: time.Unix(2e9, 0)}, nil
}

func TestCredentialSourceAndGenericConstructors(t *testing.T) {
	cred := &countingCred{}
	src := tokens.CredentialSource(cred)
	tok, err := src.Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, tokens.Token{Value: "opaque-token", ExpiresOn: time.Unix(2e9, 0)}, tok)
	assert.Equal(t, []string{tokens.ScopeAzureSQL}, cred.scopes)

	_, err = tokens.CredentialSource(cred, tokens.WithScope(tokens.ScopePostgreSQL)).Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{tokens.ScopePostgreSQL}, cred.scopes)
	_, err = tokens.CredentialSource(cred, tokens.WithScope(""), nil).Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{tokens.ScopeAzureSQL}, cred.scopes, "an empty scope keeps the default")

	id, err := tokens.CredentialIdentity(tokens.KindServicePrincipal, "sp:t/wi", cred)
	require.NoError(t, err)
	assert.Equal(t, "sp:t/wi", discriminator(t, id))
	_, err = tokens.CredentialIdentity(tokens.KindServicePrincipal, "a\x00b", cred)
	require.Error(t, err)
	_, err = tokens.CredentialIdentity(tokens.KindServicePrincipal, "x", nil)
	require.Error(t, err)

	keyed, err := tokens.TokenKeyedCredentialIdentity(tokens.KindDefaultCredential, cred)
	require.NoError(t, err)
	sum := sha256.Sum256([]byte("opaque-token"))
	assert.Equal(t, "dac:"+hex.EncodeToString(sum[:]), discriminator(t, keyed))
	keyedMI, err := tokens.TokenKeyedCredentialIdentity(tokens.KindManagedIdentity, cred)
	require.NoError(t, err)
	assert.Equal(t, "msi:tok:"+hex.EncodeToString(sum[:]), discriminator(t, keyedMI))
	_, err = tokens.TokenKeyedCredentialIdentity(tokens.KindSQLLogin, cred)
	require.ErrorIs(t, err, tokens.ErrInvalidIdentity)
	_, err = tokens.CredentialIdentity(tokens.KindServicePrincipal, "msi:x", cred)
	require.ErrorIs(t, err, tokens.ErrInvalidIdentity, "a discriminator of another kind's domain")
	_, err = tokens.CredentialIdentity(tokens.KindManagedIdentity, "myapp:x", cred)
	require.ErrorIs(t, err, tokens.ErrInvalidIdentity, "a custom domain is for provided tokens only")

	empty := tokens.CredentialSource(credFunc(func() (azcore.AccessToken, error) { return azcore.AccessToken{}, nil }))
	_, err = empty.Token(context.Background())
	require.Error(t, err, "an empty token is never handed to a dialer")
	failing := tokens.CredentialSource(credFunc(func() (azcore.AccessToken, error) { return azcore.AccessToken{}, errBoom }))
	_, err = failing.Token(context.Background())
	require.ErrorIs(t, err, errBoom)
}

var errBoom = errors.New("boom")

type credFunc func() (azcore.AccessToken, error)

func (f credFunc) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return f()
}

func TestStaticAndFuncIdentities(t *testing.T) {
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	id, err := tokens.StaticTokenIdentity("static-token-value", exp)
	require.NoError(t, err)
	sum := sha256.Sum256([]byte("static-token-value"))
	assert.Equal(t, "tok:"+hex.EncodeToString(sum[:]), discriminator(t, id))
	assert.Equal(t, tokens.KindProvidedToken, id.Kind())
	tok, err := id.Source().Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, tokens.Token{Value: "static-token-value", ExpiresOn: exp}, tok)
	_, err = tokens.StaticTokenIdentity("", exp)
	require.Error(t, err)

	// A JWT handed in without an expiry: exp is read from it.
	s := startEntra(t)
	miStatic := unique("mi-static")
	s.RegisterManagedIdentity(miStatic, "oid-static")
	s.SetManagedIdentityEnv(t)
	mi, err := tokens.UserAssignedIdentity(azidentity.ClientID(miStatic), &azidentity.ManagedIdentityCredentialOptions{ClientOptions: s.ClientOptions()})
	require.NoError(t, err)
	jwtTok, _ := mintAndVerify(t, s, mi, sqlAud)
	fromJWT, err := tokens.StaticTokenIdentity(jwtTok.Value, time.Time{})
	require.NoError(t, err)
	got, err := fromJWT.Source().Token(context.Background())
	require.NoError(t, err)
	assert.WithinDuration(t, jwtTok.ExpiresOn, got.ExpiresOn, time.Second)
	opaque, err := tokens.StaticTokenIdentity("opaque", time.Time{})
	require.NoError(t, err)
	got, err = opaque.Source().Token(context.Background())
	require.NoError(t, err)
	assert.True(t, got.ExpiresOn.IsZero(), "unknown expiry stays unknown")

	calls := 0
	fn, err := tokens.TokenFuncIdentity(func(context.Context) (tokens.Token, error) {
		calls++
		return tokens.Token{Value: "fn-token", ExpiresOn: exp}, nil
	})
	require.NoError(t, err)
	fsum := sha256.Sum256([]byte("fn-token"))
	assert.Equal(t, "tok:"+hex.EncodeToString(fsum[:]), discriminator(t, fn))
	assert.Equal(t, "tok:"+hex.EncodeToString(fsum[:]), discriminator(t, fn))
	assert.Equal(t, 1, calls)
	_, err = tokens.TokenFuncIdentity(nil)
	require.Error(t, err)
}

func TestKeysAreNULSeparatedAndDistinctPerKind(t *testing.T) {
	s := startEntra(t)
	s.SetManagedIdentityEnv(t)
	s.RegisterManagedIdentity("", "oid-k-sys")
	s.RegisterManagedIdentity("mi-k", "oid-k-mi")
	s.RegisterApp(tenant, "app-k", "pw", "oid-k-app")
	miOpts := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: s.ClientOptions()}
	spOpts := &azidentity.ClientSecretCredentialOptions{ClientOptions: s.ClientOptions(), DisableInstanceDiscovery: true}

	sys, err := tokens.SystemAssignedIdentity(miOpts)
	require.NoError(t, err)
	ua, err := tokens.UserAssignedIdentity(azidentity.ClientID("mi-k"), miOpts)
	require.NoError(t, err)
	sp, err := tokens.ClientSecretIdentity(tenant, "app-k", "pw", spOpts)
	require.NoError(t, err)
	static, err := tokens.StaticTokenIdentity("t", time.Time{})
	require.NoError(t, err)
	acct, err := tokens.NewDeviceCodeAccount(&azidentity.DeviceCodeCredentialOptions{
		ClientOptions: s.ClientOptions(), DisableInstanceDiscovery: true, TenantID: tenant,
		AuthenticationRecord: azidentity.AuthenticationRecord{HomeAccountID: "uid.utid", Version: "1.0"},
	})
	require.NoError(t, err)
	user, err := acct.Identity(testCtx(t))
	require.NoError(t, err)

	const server = "sql1.example:1433"
	seen := map[tokens.Key]string{}
	for name, id := range map[string]tokens.Identity{"sys": sys, "ua": ua, "sp": sp, "static": static, "user": user} {
		d := discriminator(t, id)
		assert.NotContains(t, d, "\x00", name)
		k := tokens.NewKey(server, d)
		assert.Equal(t, server, k.Server())
		assert.Equal(t, d, k.Discriminator())
		assert.Equal(t, 1, strings.Count(string(k), "\x00"), name)
		_, dup := seen[k]
		assert.False(t, dup, "%s shares a key", name)
		seen[k] = name
	}
	assert.Equal(t, 0, s.Requests(), "every one of these keys is known without a token")
	assert.Equal(t, tokens.NewKey(server, "acct:uid.utid"), tokens.NewKey(server, discriminator(t, user)))
	sqlLogin := tokens.NewKey(server, discriminator(t, tokens.SQLLogin()))
	_, dup := seen[sqlLogin]
	assert.False(t, dup)
}

// TestWorkloadIdentity: keyed by tenant and client id without a mint (from
// the options, or AZURE_TENANT_ID / AZURE_CLIENT_ID), and minting through
// azidentity's WorkloadIdentityCredential with the token file's federated
// assertion against sim/entra.
func TestWorkloadIdentity(t *testing.T) {
	s := startEntra(t)
	s.RegisterFederatedApp(tenant, "app-wi", "system:serviceaccount:default:api", "oid-wi")
	file := t.TempDir() + "/token"
	require.NoError(t, os.WriteFile(file, []byte(s.FederatedAssertion("system:serviceaccount:default:api")), 0o600))
	t.Setenv("AZURE_TENANT_ID", tenant)
	t.Setenv("AZURE_CLIENT_ID", "app-wi")
	id, err := tokens.WorkloadIdentity(&azidentity.WorkloadIdentityCredentialOptions{
		ClientOptions: s.ClientOptions(), DisableInstanceDiscovery: true, TokenFilePath: file})
	require.NoError(t, err)
	assert.True(t, id.KeyResolved())
	assert.Equal(t, "sp:"+tenant+"/app-wi", discriminator(t, id))
	assert.Zero(t, s.Issued("app-wi"), "the key costs no mint")
	_, c := mintAndVerify(t, s, id, sqlAud)
	assert.Equal(t, "oid-wi", c.ObjectID)

	t.Setenv("AZURE_CLIENT_ID", "")
	_, err = tokens.WorkloadIdentity(&azidentity.WorkloadIdentityCredentialOptions{TokenFilePath: file})
	require.ErrorContains(t, err, "empty client id")
}

// TestCLIIdentitiesAreTokenKeyed: the CLIs' principal is only known from a
// token, so their identities learn the key at the first acquire.
func TestCLIIdentitiesAreTokenKeyed(t *testing.T) {
	cli, err := tokens.AzureCLIIdentity(nil)
	require.NoError(t, err)
	azd, err := tokens.AzureDeveloperCLIIdentity(nil)
	require.NoError(t, err)
	for _, id := range []tokens.Identity{cli, azd} {
		require.NoError(t, id.Validate())
		assert.Equal(t, tokens.KindUserAccount, id.Kind())
		assert.False(t, id.KeyResolved())
	}
}
