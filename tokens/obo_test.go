package tokens_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/internal/redacttest"
	"github.com/idpool/idpool/sim/entra"
	"github.com/idpool/idpool/tokens"
)

const (
	oboUser = "alice@contoso.example"
	oboOID  = "0a11ce00-0000-4000-8000-000000000001"
)

// oboApps registers a middle-tier app three ways (secret, certificate,
// federated assertion) and returns an OnBehalfOf for each, built over
// azidentity's OnBehalfOfCredential constructors.
func oboApps(t *testing.T, s *entra.Server) map[string]*tokens.OnBehalfOf {
	t.Helper()
	s.RegisterUser(tenant, oboUser, oboOID)
	s.RegisterApp(tenant, "api-secret", "api-secret-value", "oid-api-secret")
	sec, err := tokens.NewOnBehalfOfSecret(tenant, "api-secret", "api-secret-value", s.OnBehalfOfOptions())
	require.NoError(t, err)

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "api-cert"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	s.RegisterAppCertificate(tenant, "api-cert", cert, "oid-api-cert")
	crt, err := tokens.NewOnBehalfOfCertificate(tenant, "api-cert", []*x509.Certificate{cert}, key, s.OnBehalfOfOptions())
	require.NoError(t, err)

	s.RegisterFederatedApp(tenant, "api-fed", "repo:idpool:api", "oid-api-fed")
	fed, err := tokens.NewOnBehalfOfAssertion(tenant, "api-fed",
		func(context.Context) (string, error) { return s.FederatedAssertion("repo:idpool:api"), nil }, s.OnBehalfOfOptions())
	require.NoError(t, err)
	return map[string]*tokens.OnBehalfOf{"api-secret": sec, "api-cert": crt, "api-fed": fed}
}

// TestOnBehalfOfExchangesTheUsersTokenForADatabaseTokenOfThatUser: each
// variant, through azidentity's real OnBehalfOfCredential against
// sim/entra's OBO grant, gets a database token whose subject is the user;
// the key is the user's and costs no exchange.
func TestOnBehalfOfExchangesTheUsersTokenForADatabaseTokenOfThatUser(t *testing.T) {
	s := startEntra(t)
	user := tokens.Principal{TenantID: tenant, ObjectID: oboOID}
	for clientID, app := range oboApps(t, s) {
		t.Run(clientID, func(t *testing.T) {
			assertion, err := s.UserToken(oboUser, clientID, time.Hour)
			require.NoError(t, err)
			before := s.Exchanges()
			id, err := app.Identity(user, assertion)
			require.NoError(t, err)
			assert.Equal(t, tokens.KindOnBehalfOf, id.Kind())
			assert.Equal(t, "obo:"+tenant+"/"+oboOID, discriminator(t, id))
			assert.Equal(t, before, s.Exchanges(), "the key costs no exchange")

			tok, c := mintAndVerify(t, s, id, sqlAud)
			assert.Equal(t, oboUser, c.UPN, "the database sees the user")
			assert.Equal(t, oboOID, c.ObjectID)
			assert.Equal(t, clientID, c.AppID)
			assert.Equal(t, before+1, s.Exchanges())
			again, err := id.Source().Token(testCtx(t))
			require.NoError(t, err)
			assert.Equal(t, tok.Value, again.Value, "the credential caches the exchanged token")
			assert.Equal(t, before+1, s.Exchanges())
		})
	}
}

// TestOnBehalfOfRefusesBadAssertions: sim/entra, as Entra, refuses an
// expired assertion (AADSTS500133), one for another API, and a forged one;
// and the pool's last check refuses a vouched principal that is not the
// assertion's user.
func TestOnBehalfOfRefusesBadAssertions(t *testing.T) {
	s := startEntra(t)
	app := oboApps(t, s)["api-secret"]
	user := tokens.Principal{TenantID: tenant, ObjectID: oboOID}
	expired, err := s.UserToken(oboUser, "api-secret", -time.Minute)
	require.NoError(t, err)
	otherAPI, err := s.UserToken(oboUser, "some-other-api", time.Hour)
	require.NoError(t, err)
	forged, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{
		"aud": entra.APIAudience("api-secret"), "upn": oboUser, "oid": oboOID, "tid": tenant, "idtyp": "user",
		"exp": time.Now().Add(time.Hour).Unix(), "iss": "x",
	}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	for name, c := range map[string]struct{ assertion, want string }{
		"expired":   {expired, "AADSTS500133"},
		"other api": {otherAPI, "AADSTS50013"},
		"forged":    {forged, "AADSTS50013"},
	} {
		t.Run(name, func(t *testing.T) {
			id, err := app.Identity(user, c.assertion)
			require.NoError(t, err)
			_, err = id.Source().Token(testCtx(t))
			require.ErrorContains(t, err, c.want)
			assert.NotContains(t, err.Error(), c.assertion)
		})
	}
	good, err := s.UserToken(oboUser, "api-secret", time.Hour)
	require.NoError(t, err)
	mallory := tokens.Principal{TenantID: tenant, ObjectID: "0a11ce00-0000-4000-8000-00000000bad0"}
	id, err := app.Identity(mallory, good)
	require.NoError(t, err)
	_, err = id.Source().Token(testCtx(t))
	require.ErrorContains(t, err, "another principal", "a token of alice never serves mallory's pool")
}

// TestOnBehalfOfInputsAreChecked names each bad input.
func TestOnBehalfOfInputsAreChecked(t *testing.T) {
	_, err := tokens.NewOnBehalfOfSecret(tenant, "c", "", nil)
	require.ErrorIs(t, err, tokens.ErrInvalidIdentity)
	_, err = tokens.NewOnBehalfOfSecret("", "c", "s", nil)
	require.ErrorContains(t, err, "empty tenant id")
	_, err = tokens.NewOnBehalfOfCertificate(tenant, "c", nil, nil, nil)
	require.ErrorContains(t, err, "no certificate")
	_, err = tokens.NewOnBehalfOfAssertion(tenant, "c", nil, nil)
	require.ErrorContains(t, err, "nil assertion function")
	app, err := tokens.NewOnBehalfOfSecret(tenant, "c", "s", nil)
	require.NoError(t, err)
	_, err = app.Identity(tokens.Principal{TenantID: tenant}, "a")
	require.ErrorContains(t, err, "empty object id")
	_, err = app.Identity(tokens.Principal{TenantID: tenant, ObjectID: "o"}, "")
	require.ErrorContains(t, err, "empty user assertion")
	var nilApp *tokens.OnBehalfOf
	_, err = nilApp.Identity(tokens.Principal{TenantID: tenant, ObjectID: "o"}, "a")
	require.ErrorIs(t, err, tokens.ErrInvalidIdentity)
	id := tokens.New(tokens.KindOnBehalfOf, "obo:t/o", tokens.SourceFunc(func(context.Context) (tokens.Token, error) { return tokens.Token{}, nil }))
	require.ErrorContains(t, id.Validate(), "reserved for tokens.OnBehalfOf")
}

// TestOnBehalfOfIsRedacted: the app's secret and the user's assertion never
// print, from the app or from an identity built with it.
func TestOnBehalfOfIsRedacted(t *testing.T) {
	secret := "SENTINEL-" + rand.Text()
	assertion := "ASSERTION-" + rand.Text()
	app, err := tokens.NewOnBehalfOfSecret(tenant, "api-redact", secret, nil)
	require.NoError(t, err)
	id, err := app.Identity(tokens.Principal{TenantID: tenant, ObjectID: "o"}, assertion)
	require.NoError(t, err)
	redacttest.AssertRedacted(t, []string{secret, assertion}, *app, app, id, id.Source())
	assert.True(t, strings.HasPrefix(app.String(), "on-behalf-of(sp#"), app.String())
}

// TestTheZeroOnBehalfOfIsRefused: new(tokens.OnBehalfOf) names no app. Its
// Identity panicked on the nil credential constructor (every request of a
// middleware given it panicked); it is an error now, and it prints as the
// zero value, not as "sql-login".
func TestTheZeroOnBehalfOfIsRefused(t *testing.T) {
	zero := new(tokens.OnBehalfOf)
	var err error
	require.NotPanics(t, func() {
		_, err = zero.Identity(tokens.Principal{TenantID: tenant, ObjectID: "o"}, "a")
	})
	require.ErrorIs(t, err, tokens.ErrInvalidIdentity)
	assert.Contains(t, err.Error(), "zero tokens.OnBehalfOf")
	assert.Equal(t, "on-behalf-of(zero)", zero.String())
}
