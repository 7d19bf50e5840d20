package onbehalf_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/onbehalf"
	"github.com/idpool/idpool/tokens"
)

// TestAbsurdClaimsNeitherPanicNorMixUsers: assertions with claims no
// issuer should sign (iat after exp, exp in 1970 or past year 33658, exp
// as a string, an array or a huge number, alg none, a payload that is not
// JSON, whitespace and control bytes, a megabyte of token) are only ever
// ordered among one user's own: each call returns an identity keyed as its
// user, nothing panics, and the cache never holds more than its size.
func TestAbsurdClaimsNeitherPanicNorMixUsers(t *testing.T) {
	c, err := onbehalf.NewCache(app(t), 4)
	require.NoError(t, err)
	none := func(claims jwt.MapClaims) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
		require.NoError(t, err)
		return tok
	}
	now := time.Now()
	assertions := []string{
		none(jwt.MapClaims{"iat": now.Add(time.Hour).Unix(), "exp": now.Unix()}),
		none(jwt.MapClaims{"iat": 0, "exp": 1}),
		none(jwt.MapClaims{"iat": -1e300, "exp": 1e300}),
		none(jwt.MapClaims{"exp": math.MaxFloat64}),
		none(jwt.MapClaims{"exp": 1e12 + 1, "iat": 1e12}),
		none(jwt.MapClaims{"exp": "tomorrow", "iat": []any{1, 2}}),
		none(jwt.MapClaims{"exp": map[string]any{"$gt": 0}}),
		"eyJhbGciOiJub25lIn0.bm90IGpzb24.", // payload "not json"
		"a.b.c.d.e", "..", " ", "\x00", "\n\t",
		"Bearer " + strings.Repeat("x", 1<<20),
	}
	want := func(u int) string {
		id, err := app(t).Identity(user(u), "x")
		require.NoError(t, err)
		d, err := id.Discriminator(t.Context())
		require.NoError(t, err)
		return d
	}
	keys := map[int]string{}
	for u := range 6 {
		keys[u] = want(u)
	}
	for round := range 3 {
		for i, a := range assertions {
			u := (i + round) % 6
			id, err := c.Identity(user(u), a)
			require.NoError(t, err, "assertion %d", i)
			d, err := id.Discriminator(t.Context())
			require.NoError(t, err)
			assert.Equal(t, keys[u], d, "assertion %d for user %d", i, u)
			assert.LessOrEqual(t, c.Len(), 4)
		}
	}
}

// TestManyDistinctUsersStayWithinTheSize: a flood of users, each seen
// once (a crawler with many accounts, a test tenant), keeps at most size
// entries, least recently used out first, and Forget empties it.
func TestManyDistinctUsersStayWithinTheSize(t *testing.T) {
	c, err := onbehalf.NewCache(app(t), 100)
	require.NoError(t, err)
	for i := range 20_000 {
		_, err := c.Identity(tokens.Principal{TenantID: tenant, ObjectID: fmt.Sprint("flood-", i)}, "a")
		require.NoError(t, err)
	}
	assert.Equal(t, 100, c.Len())
	for i := range 20_000 {
		c.Forget(tokens.Principal{TenantID: tenant, ObjectID: fmt.Sprint("flood-", i)})
	}
	assert.Zero(t, c.Len())
}
