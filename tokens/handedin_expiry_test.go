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
