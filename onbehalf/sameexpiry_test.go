package onbehalf_test

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/onbehalf"
	"github.com/idpool/idpool/tokens"
)

// TestAnAssertionExpiringAtTheSameTimeReplacesTheKeptOne: a user's
// assertion that expires neither before nor after the kept one, issued at
// the same time (two tokens of one sign-in, one of them with a claim the
// other lacks), is ordered by arrival, as the Cache says: it does not expire
// before the kept one, so it replaces it. Keeping the older one for an equal
// expiry would pin a credential the user no longer sends.
func TestAnAssertionExpiringAtTheSameTimeReplacesTheKeptOne(t *testing.T) {
	c, err := onbehalf.NewCache(app(t), 10)
	require.NoError(t, err)
	user := tokens.Principal{TenantID: tenant, ObjectID: "user-1"}
	iat, exp := time.Now().Add(-time.Minute), time.Now().Add(time.Hour)
	assertion := func(jti string) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{
			"tid": tenant, "oid": "user-1", "iat": iat.Unix(), "exp": exp.Unix(), "jti": jti,
		}).SignedString(jwt.UnsafeAllowNoneSignatureType)
		require.NoError(t, err)
		return tok
	}
	first, err := c.Identity(user, assertion("a"))
	require.NoError(t, err)
	second, err := c.Identity(user, assertion("b"))
	require.NoError(t, err)
	assert.False(t, second.SameCredential(first), "the kept assertion of an equal expiry was not replaced")
	again, err := c.Identity(user, assertion("b"))
	require.NoError(t, err)
	assert.True(t, again.SameCredential(second))
}
