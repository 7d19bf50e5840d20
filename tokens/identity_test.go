package tokens_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/tokens"
)

// TestZeroIdentityIsRefused is leak 3 at its root: the zero Identity used to
// be a SQL login. It is now refused by everything that takes an identity,
// with an error that says what happened and what to do.
func TestZeroIdentityIsRefused(t *testing.T) {
	var zero tokens.Identity
	err := zero.Validate()
	require.ErrorIs(t, err, tokens.ErrInvalidIdentity)
	assert.ErrorContains(t, err, "zero Identity")
	assert.ErrorContains(t, err, "tokens.SQLLogin()")
	_, err = zero.Discriminator(context.Background())
	require.ErrorIs(t, err, tokens.ErrInvalidIdentity)
	assert.False(t, zero.UsesToken())
	assert.Equal(t, "identity(invalid)", zero.String())

	// Through a ctx, as the facade reads it: present, and still refused.
	got, ok := tokens.IdentityFrom(tokens.WithIdentity(context.Background(), zero))
	require.True(t, ok)
	require.ErrorIs(t, got.Validate(), tokens.ErrInvalidIdentity)

	// The only SQL login is the explicit one.
	sql := tokens.SQLLogin()
	require.NoError(t, sql.Validate())
	d, err := sql.Discriminator(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "sql-login", d)
	assert.Equal(t, "srv/sql-login", tokens.NewKey("srv", d).Redacted())
	assert.Equal(t, tokens.KindSQLLogin, sql.Kind())
	assert.Equal(t, "invalid", zero.Kind().String())
}

// TestConstructorsNameBadInputAndReturnTheZeroIdentity: every constructor
// refuses each missing input by name, and what it returns with the error is
// the zero Identity, which nothing accepts (so `id, _ := ...` cannot run as
// the DSN's user).
func TestConstructorsNameBadInputAndReturnTheZeroIdentity(t *testing.T) {
	s := startEntra(t)
	spOpts := &azidentity.ClientSecretCredentialOptions{ClientOptions: s.ClientOptions(), DisableInstanceDiscovery: true}
	certOpts := &azidentity.ClientCertificateCredentialOptions{ClientOptions: s.ClientOptions(), DisableInstanceDiscovery: true}
	asOpts := &azidentity.ClientAssertionCredentialOptions{ClientOptions: s.ClientOptions(), DisableInstanceDiscovery: true}
	miOpts := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: s.ClientOptions()}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	cert := &x509.Certificate{}
	certs := []*x509.Certificate{cert}
	assertion := func(context.Context) (string, error) { return "a", nil }
	src := tokens.SourceFunc(func(context.Context) (tokens.Token, error) { return tokens.Token{Value: "v"}, nil })
	cred := &countingCred{}

	cases := map[string]struct {
		build func() (tokens.Identity, error)
		want  string
	}{
		"secret: tenant": {func() (tokens.Identity, error) { return tokens.ClientSecretIdentity("", "c", "s", spOpts) }, "empty tenant id"},
		"secret: client": {func() (tokens.Identity, error) { return tokens.ClientSecretIdentity(tenant, "", "s", spOpts) }, "empty client id"},
		"secret: secret": {func() (tokens.Identity, error) { return tokens.ClientSecretIdentity(tenant, "c", "", spOpts) }, "empty client secret"},
		"cert: tenant": {func() (tokens.Identity, error) {
			return tokens.ClientCertificateIdentity("", "c", certs, key, certOpts)
		}, "empty tenant id"},
		"cert: client": {func() (tokens.Identity, error) {
			return tokens.ClientCertificateIdentity(tenant, "", certs, key, certOpts)
		}, "empty client id"},
		"cert: no certs": {func() (tokens.Identity, error) {
			return tokens.ClientCertificateIdentity(tenant, "c", nil, key, certOpts)
		}, "no certificate"},
		"cert: nil cert": {func() (tokens.Identity, error) {
			return tokens.ClientCertificateIdentity(tenant, "c", []*x509.Certificate{nil}, key, certOpts)
		}, "nil one"},
		"cert: nil key": {func() (tokens.Identity, error) {
			return tokens.ClientCertificateIdentity(tenant, "c", certs, nil, certOpts)
		}, "nil private key"},
		"assertion: tenant": {func() (tokens.Identity, error) { return tokens.ClientAssertionIdentity("", "c", assertion, asOpts) }, "empty tenant id"},
		"assertion: client": {func() (tokens.Identity, error) { return tokens.ClientAssertionIdentity(tenant, "", assertion, asOpts) }, "empty client id"},
		"assertion: func":   {func() (tokens.Identity, error) { return tokens.ClientAssertionIdentity(tenant, "c", nil, asOpts) }, "nil assertion function"},
		"msi: nil id":       {func() (tokens.Identity, error) { return tokens.UserAssignedIdentity(nil, miOpts) }, "needs a ClientID"},
		"msi: empty client": {func() (tokens.Identity, error) { return tokens.UserAssignedIdentity(azidentity.ClientID(""), miOpts) }, "empty managed identity client id"},
		"msi: empty object": {func() (tokens.Identity, error) { return tokens.UserAssignedIdentity(azidentity.ObjectID(""), miOpts) }, "empty managed identity object id"},
		"msi: empty resource": {func() (tokens.Identity, error) {
			return tokens.UserAssignedIdentity(azidentity.ResourceID(""), miOpts)
		}, "empty managed identity resource id"},
		"msi: system as client": {func() (tokens.Identity, error) {
			return tokens.UserAssignedIdentity(azidentity.ClientID("system"), miOpts)
		}, `"system"`},
		"msi: system with id": {func() (tokens.Identity, error) {
			return tokens.SystemAssignedIdentity(&azidentity.ManagedIdentityCredentialOptions{ID: azidentity.ClientID("x")})
		}, "use UserAssignedIdentity"},
		"static: empty": {func() (tokens.Identity, error) { return tokens.StaticTokenIdentity("", time.Time{}) }, "empty token"},
		"func: nil":     {func() (tokens.Identity, error) { return tokens.TokenFuncIdentity(nil) }, "nil token function"},
		"vouched: tenant": {func() (tokens.Identity, error) {
			return tokens.VouchedTokenIdentity(tokens.Principal{ObjectID: "o"}, src)
		}, "empty principal tenant id"},
		"vouched: object": {func() (tokens.Identity, error) {
			return tokens.VouchedTokenIdentity(tokens.Principal{TenantID: "t"}, src)
		}, "empty principal object id"},
		"vouched: source": {func() (tokens.Identity, error) {
			return tokens.VouchedTokenIdentity(tokens.Principal{TenantID: "t", ObjectID: "o"}, nil)
		}, "nil token source"},
		"credential: nil": {func() (tokens.Identity, error) {
			return tokens.CredentialIdentity(tokens.KindServicePrincipal, "sp:t/c", nil)
		}, "nil credential"},
		"credential: empty": {func() (tokens.Identity, error) {
			return tokens.CredentialIdentity(tokens.KindServicePrincipal, "", cred)
		}, "empty discriminator"},
		"credential: NUL": {func() (tokens.Identity, error) {
			return tokens.CredentialIdentity(tokens.KindServicePrincipal, "sp:t/c\x00", cred)
		}, "NUL"},
		"credential: kind": {func() (tokens.Identity, error) {
			return tokens.CredentialIdentity(tokens.KindServicePrincipal, "msi:x", cred)
		}, "managed-identity domain"},
		"credential: form": {func() (tokens.Identity, error) {
			return tokens.CredentialIdentity(tokens.KindServicePrincipal, "sp:t", cred)
		}, "form"},
		"credential: obo": {func() (tokens.Identity, error) {
			return tokens.CredentialIdentity(tokens.KindProvidedToken, "obo:t/o", cred)
		}, "reserved"},
		"credential: sql": {func() (tokens.Identity, error) {
			return tokens.CredentialIdentity(tokens.KindSQLLogin, "sql-login", cred)
		}, "tokens.SQLLogin()"},
		"token keyed: nil": {func() (tokens.Identity, error) {
			return tokens.TokenKeyedCredentialIdentity(tokens.KindDefaultCredential, nil)
		}, "nil credential"},
		"token keyed: sql":    {func() (tokens.Identity, error) { return tokens.TokenKeyedCredentialIdentity(tokens.KindSQLLogin, cred) }, "cannot be token keyed"},
		"token keyed: kind 0": {func() (tokens.Identity, error) { return tokens.TokenKeyedCredentialIdentity(0, cred) }, "cannot be token keyed"},
	}
	for name, c := range cases {
		id, err := c.build()
		require.ErrorIs(t, err, tokens.ErrInvalidIdentity, name)
		assert.ErrorContains(t, err, c.want, name)
		assert.ErrorIs(t, id.Validate(), tokens.ErrInvalidIdentity, "%s: the identity returned with the error is refused", name)
		_, derr := id.Discriminator(context.Background())
		assert.ErrorIs(t, derr, tokens.ErrInvalidIdentity, name)
	}
	_, err = tokens.NewAccount(nil, azidentity.AuthenticationRecord{})
	assert.ErrorIs(t, err, tokens.ErrInvalidIdentity)
	assert.Zero(t, s.Requests(), "no constructor asked Entra for anything")
}

// TestNewRefusesBadInputWithTheReason: New returns no error, so a bad input
// yields an identity that every use refuses, saying why.
func TestNewRefusesBadInputWithTheReason(t *testing.T) {
	src := tokens.SourceFunc(func(context.Context) (tokens.Token, error) { return tokens.Token{Value: "v"}, nil })
	for want, id := range map[string]tokens.Identity{
		"no valid kind":                 tokens.New(0, "myapp:x", src),
		"tokens.SQLLogin(), not":        tokens.New(tokens.KindSQLLogin, "sql-login", nil),
		"needs a token source":          tokens.New(tokens.KindManagedIdentity, "msi:x", nil),
		"provided-token domain":         tokens.New(tokens.KindManagedIdentity, "myapp:x", src),
		"service-principal domain":      tokens.New(tokens.KindProvidedToken, "sp:t/c", src),
		"reserved":                      tokens.New(tokens.KindProvidedToken, "obo:t/o", src),
		"needs a domain":                tokens.New(tokens.KindProvidedToken, "plain", src),
		"not of the \"tok\" domain's":   tokens.New(tokens.KindProvidedToken, "tok:not-a-hash", src),
		"cannot be token keyed":         tokens.NewTokenKeyed(tokens.KindSQLLogin, src),
		"provided-token identity needs": tokens.NewTokenKeyed(tokens.KindProvidedToken, nil),
	} {
		err := id.Validate()
		require.ErrorIs(t, err, tokens.ErrInvalidIdentity, want)
		assert.ErrorContains(t, err, want)
		assert.Equal(t, "identity(invalid)", id.String())
	}
	ok := tokens.New(tokens.KindProvidedToken, "myapp:alice", src)
	require.NoError(t, ok.Validate(), "a caller-named key is for provided tokens")
}

// forge builds an unsigned JWT ("alg": "none") with the given claims: what
// an attacker can hand a service that reads claims without verifying them.
func forge(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	v, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	return v
}

// TestForgedClaimsGetAPoolOfTheirOwn is leak 4: a token-keyed identity used
// to be keyed by its token's unverified tid and oid, so a forged token that
// claimed them joined the real principal's pool. Now only a vouched
// principal is keyed by claims; a handed-in token is keyed by its own hash.
func TestForgedClaimsGetAPoolOfTheirOwn(t *testing.T) {
	s := startEntra(t)
	// A service principal: its token cache is per credential, so a second
	// run of the test gets a token of this run's Entra.
	s.RegisterApp(tenant, "app-victim", "pw-victim", "oid-victim")
	mi, err := tokens.ClientSecretIdentity(tenant, "app-victim", "pw-victim",
		&azidentity.ClientSecretCredentialOptions{ClientOptions: s.ClientOptions(), DisableInstanceDiscovery: true})
	require.NoError(t, err)
	real, claims := mintAndVerify(t, s, mi, sqlAud)
	require.Equal(t, "oid-victim", claims.ObjectID)

	forged := forge(t, jwt.MapClaims{"tid": claims.TenantID, "oid": claims.ObjectID, "aud": sqlAud,
		"exp": time.Now().Add(time.Hour).Unix()})
	victimFn, err := tokens.TokenFuncIdentity(func(context.Context) (tokens.Token, error) { return real, nil })
	require.NoError(t, err)
	victimVouched, err := tokens.VouchedTokenIdentity(tokens.Principal{TenantID: claims.TenantID, ObjectID: claims.ObjectID},
		tokens.SourceFunc(func(context.Context) (tokens.Token, error) { return real, nil }))
	require.NoError(t, err)
	attackerFn, err := tokens.TokenFuncIdentity(func(context.Context) (tokens.Token, error) {
		return tokens.Token{Value: forged, ExpiresOn: time.Now().Add(time.Hour)}, nil
	})
	require.NoError(t, err)
	attackerStatic, err := tokens.StaticTokenIdentity(forged, time.Time{})
	require.NoError(t, err)

	victims := []string{discriminator(t, victimFn), discriminator(t, victimVouched), discriminator(t, mi)}
	for _, a := range []tokens.Identity{attackerFn, attackerStatic} {
		d := discriminator(t, a)
		assert.NotContains(t, victims, d)
		assert.True(t, strings.HasPrefix(d, "tok:"), d)
	}
	assert.Equal(t, "oid:"+strings.ToLower(claims.TenantID)+"/oid-victim", discriminator(t, victimVouched))

	// Vouching for the victim does not let the forged token in either: the
	// vouched identity refuses a token whose claims name someone else, and a
	// token of the victim vouched as someone else.
	wrong, err := tokens.VouchedTokenIdentity(tokens.Principal{TenantID: claims.TenantID, ObjectID: "oid-someone-else"},
		tokens.SourceFunc(func(context.Context) (tokens.Token, error) { return real, nil }))
	require.NoError(t, err)
	_, err = wrong.Source().Token(context.Background())
	require.ErrorContains(t, err, "another principal than the one vouched for")
	assert.NotContains(t, err.Error(), real.Value)
	tok, err := victimVouched.Source().Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, real.Value, tok.Value)
}
