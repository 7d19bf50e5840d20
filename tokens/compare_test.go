package tokens_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/tokens"
)

// TestIdentitiesCompareAndHash: an Identity is a small value, and a caller
// compares two with == or keys a map by one (a per-identity cache, a set of
// identities seen). Every identity the package builds supports both; a
// StaticTokenIdentity's source was a func, so == on two of them panicked
// ("comparing uncomparable type tokens.SourceFunc") and so did using one as
// a map key, where every other constructor's identity was fine. Two
// constructor calls are two credentials (SameCredential), so they differ;
// a copy is the same. The source still prints redacted, by value and by
// pointer.
func TestIdentitiesCompareAndHash(t *testing.T) {
	const secret = "STATIC-SECRET-TOKEN"
	exp := time.Now().Add(time.Hour)
	static, err := tokens.StaticTokenIdentity(secret, exp)
	require.NoError(t, err)
	again, err := tokens.StaticTokenIdentity(secret, exp)
	require.NoError(t, err)
	fn, err := tokens.TokenFuncIdentity(func(context.Context) (tokens.Token, error) { return tokens.Token{Value: secret, ExpiresOn: exp}, nil })
	require.NoError(t, err)
	vouched, err := tokens.VouchedTokenIdentity(tokens.Principal{TenantID: "t", ObjectID: "o"}, fn.Source())
	require.NoError(t, err)
	ids := []tokens.Identity{static, again, fn, vouched, tokens.SQLLogin(), {}}
	require.NotPanics(t, func() {
		seen := map[tokens.Identity]int{}
		for i, id := range ids {
			cp := id
			assert.True(t, id == cp, "identity %d equals its copy", i)
			seen[id] = i
		}
		assert.Len(t, seen, len(ids))
		assert.False(t, static == again, "two constructor calls are two credentials")
	})
	src := static.Source()
	for _, v := range []any{src, &src} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			out := fmt.Sprintf(verb, v)
			assert.False(t, strings.Contains(out, secret) || strings.Contains(out, fmt.Sprintf("%x", secret)), "%s: %s", verb, out)
		}
	}
	got, err := src.Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, secret, got.Value)
}
