package tokens_test

import (
	"context"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/tokens"
)

// TestAHandedInTokenExpiresNoLaterThanItsExpClaim: a token handed in with
// an expiry later than its own exp claim (an application's cache TTL, an
// expires_in counted from the wrong instant) expires at its exp claim, as
// a credential's token does (TestTokenExpiryIsTheTokensOwnWhenSooner):
// the server goes by the token, and the pool must stop serving its
// connections when the server would refuse it. A sooner expiry stands.
func TestAHandedInTokenExpiresNoLaterThanItsExpClaim(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	exp := now.Add(30 * time.Minute)
	tok, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"tid": "t1", "oid": "o1", "exp": exp.Unix()}).
		SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	for _, handed := range []time.Time{now.Add(2 * time.Hour), now.Add(10 * time.Minute)} {
		want := handed
		if want.After(exp) {
			want = exp
		}
		src := tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
			return tokens.Token{Value: tok, ExpiresOn: handed}, nil
		})
		static, err := tokens.StaticTokenIdentity(tok, handed)
		require.NoError(t, err)
		fn, err := tokens.TokenFuncIdentity(src)
		require.NoError(t, err)
		vouched, err := tokens.VouchedTokenIdentity(tokens.Principal{TenantID: "t1", ObjectID: "o1"}, src)
		require.NoError(t, err)
		for name, id := range map[string]tokens.Identity{"static": static, "func": fn, "vouched": vouched} {
			got, err := id.Source().Token(context.Background())
			require.NoError(t, err, name)
			assert.Equal(t, tok, got.Value, name)
			assert.True(t, want.Equal(got.ExpiresOn), "%s handed %s: expires %s, want %s", name, handed, got.ExpiresOn, want)
		}
	}
}

// TestOnlyAHandedInTokenReportsItsExpiry: HandedInExpiry, which Acquire
// checks before it looks a pool up, reports the expiry of the one token a
// StaticTokenIdentity holds (capped at its exp claim, zero when unknown),
// the same for its copies, and nothing for an identity whose source mints
// tokens of its own, the token-keyed TokenFuncIdentity that shares its key
// among them.
func TestOnlyAHandedInTokenReportsItsExpiry(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	exp := now.Add(30 * time.Minute)
	tok, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"tid": "t1", "oid": "o1", "exp": exp.Unix()}).
		SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	for handed, want := range map[time.Time]time.Time{{}: exp, now.Add(2 * time.Hour): exp, now.Add(time.Minute): now.Add(time.Minute)} {
		static, err := tokens.StaticTokenIdentity(tok, handed)
		require.NoError(t, err)
		for _, id := range []tokens.Identity{static, func() tokens.Identity { c := static; return c }()} {
			got, ok := id.HandedInExpiry()
			assert.True(t, ok)
			assert.True(t, want.Equal(got), "handed %s: %s, want %s", handed, got, want)
		}
	}
	opaque, err := tokens.StaticTokenIdentity("opaque", time.Time{})
	require.NoError(t, err)
	got, ok := opaque.HandedInExpiry()
	assert.True(t, ok)
	assert.True(t, got.IsZero(), "an opaque token handed in with no expiry: unknown")

	src := tokens.SourceFunc(func(context.Context) (tokens.Token, error) { return tokens.Token{Value: tok, ExpiresOn: exp}, nil })
	fn, err := tokens.TokenFuncIdentity(src)
	require.NoError(t, err)
	vouched, err := tokens.VouchedTokenIdentity(tokens.Principal{TenantID: "t1", ObjectID: "o1"}, src)
	require.NoError(t, err)
	for name, id := range map[string]tokens.Identity{"func": fn, "vouched": vouched, "sql": tokens.SQLLogin(), "zero": {}} {
		_, ok := id.HandedInExpiry()
		assert.False(t, ok, name)
	}
}
