package tokens_test

import (
	"context"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/tokens"
)

// lookalikes are pairs of different ids that Unicode case mapping folds
// together: strings.ToLower maps U+212A KELVIN SIGN to 'k' and U+0130 to
// 'i', and strings.EqualFold also matches 'ſ' (U+017F) with 's'.
var lookalikes = [][2]string{
	{"kate", "\u212aate"},
	{"ivan", "\u0130van"},
	{"sam", "\u017fam"},
}

// TestLookAlikeIdsAreDifferentPrincipals: ids compare case-insensitively in
// ASCII only. Pool keys used to fold with strings.ToLower, so "kate" and
// "\u212aate" (a Kelvin sign) were one key: two principals, one pool, each
// served the other's connections. The principal check of a vouched identity
// (strings.EqualFold) let a token of the look-alike principal into the pool.
func TestLookAlikeIdsAreDifferentPrincipals(t *testing.T) {
	ctx := context.Background()
	disc := func(id tokens.Identity, err error) string {
		t.Helper()
		require.NoError(t, err)
		d, err := id.Discriminator(ctx)
		require.NoError(t, err)
		return d
	}
	src := tokens.SourceFunc(func(context.Context) (tokens.Token, error) { return tokens.Token{Value: "x"}, nil })
	app, err := tokens.NewOnBehalfOfSecret(tenant, "api", "secret", nil)
	require.NoError(t, err)
	dc, err := azidentity.NewDeviceCodeCredential(&azidentity.DeviceCodeCredentialOptions{DisableAutomaticAuthentication: true})
	require.NoError(t, err)
	keyOf := map[string]func(id string) string{
		"vouched oid": func(id string) string {
			return disc(tokens.VouchedTokenIdentity(tokens.Principal{TenantID: tenant, ObjectID: id}, src))
		},
		"vouched tid": func(id string) string {
			return disc(tokens.VouchedTokenIdentity(tokens.Principal{TenantID: id, ObjectID: "o"}, src))
		},
		"on-behalf-of": func(id string) string {
			return disc(app.Identity(tokens.Principal{TenantID: tenant, ObjectID: id}, "assertion"))
		},
		"service principal": func(id string) string {
			return disc(tokens.ClientSecretIdentity(tenant, id, "secret", nil))
		},
		"account": func(id string) string {
			a, err := tokens.NewAccount(dc, azidentity.AuthenticationRecord{HomeAccountID: id})
			require.NoError(t, err)
			return disc(a.Identity(ctx))
		},
	}
	for what, key := range keyOf {
		for _, p := range lookalikes {
			assert.NotEqual(t, key(p[0]), key(p[1]), "%s: %q and %q", what, p[0], p[1])
		}
		assert.Equal(t, key("Kate"), key("kate"), "%s: ASCII case still folds", what)
	}

	// The last check of a vouched identity compares ids as keys do.
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, p := range lookalikes {
		tok := enc(`{"alg":"RS256"}`) + "." + enc(`{"tid":"`+tenant+`","oid":"`+p[1]+`"}`) + ".c2ln"
		id, err := tokens.VouchedTokenIdentity(tokens.Principal{TenantID: tenant, ObjectID: p[0]},
			tokens.SourceFunc(func(context.Context) (tokens.Token, error) { return tokens.Token{Value: tok}, nil }))
		require.NoError(t, err)
		_, err = id.Source().Token(ctx)
		assert.ErrorContains(t, err, "another principal", "a token of %q in the pool of %q", p[1], p[0])
	}
}

// stubUserCred signs in as whoever rec names; its silent tokens are never
// asked for here.
type stubUserCred struct {
	rec azidentity.AuthenticationRecord
}

func (s stubUserCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, errors.New("not used")
}

func (s stubUserCred) Authenticate(context.Context, *policy.TokenRequestOptions) (azidentity.AuthenticationRecord, error) {
	return s.rec, nil
}

// TestAccountTellsLookAlikeAccountsApart: a sign-in that returns another
// home account id than the Account's is a changed account, compared as keys
// compare ids. strings.EqualFold, used before, took "\u212aate" (a Kelvin
// sign) for "kate" and kept the other user's session under kate's key.
func TestAccountTellsLookAlikeAccountsApart(t *testing.T) {
	for _, p := range lookalikes {
		a, err := tokens.NewAccount(stubUserCred{azidentity.AuthenticationRecord{HomeAccountID: p[1]}},
			azidentity.AuthenticationRecord{HomeAccountID: p[0]})
		require.NoError(t, err)
		_, err = a.Authenticate(context.Background())
		assert.ErrorIs(t, err, tokens.ErrAccountChanged, "%q signed in to the account of %q", p[1], p[0])
	}
	a, err := tokens.NewAccount(stubUserCred{azidentity.AuthenticationRecord{HomeAccountID: "KATE"}},
		azidentity.AuthenticationRecord{HomeAccountID: "kate"})
	require.NoError(t, err)
	_, err = a.Authenticate(context.Background())
	assert.NoError(t, err, "ASCII case is one account")
}

// TestBlankIdsAreRefusedByName: an id of white space only is refused when
// the identity is built, naming the id, as an empty one is; it used to make
// a key of its own ("oid:%20/...") whose every mint then failed far away.
func TestBlankIdsAreRefusedByName(t *testing.T) {
	src := tokens.SourceFunc(func(context.Context) (tokens.Token, error) { return tokens.Token{Value: "x"}, nil })
	app, err := tokens.NewOnBehalfOfSecret(tenant, "api", "secret", nil)
	require.NoError(t, err)
	for what, build := range map[string]func() (tokens.Identity, error){
		"blank principal tenant id": func() (tokens.Identity, error) {
			return tokens.VouchedTokenIdentity(tokens.Principal{TenantID: " ", ObjectID: "o"}, src)
		},
		"blank principal object id": func() (tokens.Identity, error) {
			return tokens.VouchedTokenIdentity(tokens.Principal{TenantID: tenant, ObjectID: "\t\n"}, src)
		},
		"blank object id": func() (tokens.Identity, error) {
			return app.Identity(tokens.Principal{TenantID: tenant, ObjectID: " "}, "assertion")
		},
		"blank client id": func() (tokens.Identity, error) { return tokens.ClientSecretIdentity(tenant, "  ", "secret", nil) },
	} {
		id, err := build()
		require.ErrorIs(t, err, tokens.ErrInvalidIdentity, what)
		assert.ErrorContains(t, err, what)
		assert.Error(t, id.Validate(), "the zero Identity comes with the error")
	}
	_, err = tokens.VouchedTokenIdentity(tokens.Principal{TenantID: tenant, ObjectID: " o "}, src)
	assert.NoError(t, err, "white space around an id is the id's own (the principal check refuses a token of \"o\")")
}
