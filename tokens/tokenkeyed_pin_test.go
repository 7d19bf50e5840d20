package tokens_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
)

// TestTokenKeyedIdentityKeepsToItsFirstPrincipal: a token-keyed identity
// (TokenFuncIdentity, DefaultCredentialIdentity, the CLI ones) learns its key
// from its first token, and every later token opens connections in that
// pool. A token function that hands out another principal's token (one that
// reads "the caller's token" from the mint's ctx, which carries the values
// of whichever acquire caused the mint) opened that principal's connections
// in the first one's pool, to be handed to the first one's callers: two
// users shared a key and connections. A later token whose (unverified) tid
// or oid differs from the first token's is now refused, whatever its alg;
// renewed tokens of the same principal, and opaque tokens, pass.
func TestTokenKeyedIdentityKeepsToItsFirstPrincipal(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	var n atomic.Int64
	jwtOf := func(alg, oid string) string {
		return enc(fmt.Sprintf(`{"alg":%q,"typ":"JWT"}`, alg)) + "." +
			enc(fmt.Sprintf(`{"tid":"t","oid":%q,"n":%d}`, oid, n.Add(1))) + ".c2ln"
	}
	var next atomic.Pointer[string]
	set := func(v string) { next.Store(&v) }
	id, err := tokens.TokenFuncIdentity(func(context.Context) (tokens.Token, error) {
		return tokens.Token{Value: *next.Load(), ExpiresOn: time.Now().Add(time.Hour)}, nil
	})
	require.NoError(t, err)

	set(jwtOf("RS256", "alice"))
	_, err = id.Discriminator(testCtx(t)) // keyed by alice's first token
	require.NoError(t, err)
	set(jwtOf("RS256", "ALICE"))
	_, err = id.Source().Token(testCtx(t))
	require.NoError(t, err, "a renewed token of the same principal (ids compare as keys do)")
	for _, alg := range []string{"RS256", "XX", "none"} {
		set(jwtOf(alg, "bob"))
		_, err = id.Source().Token(testCtx(t))
		require.Error(t, err, alg)
		assert.ErrorContains(t, err, "another principal", alg)
	}
	set("opaque-token")
	_, err = id.Source().Token(testCtx(t))
	require.NoError(t, err, "an opaque token: its hash is all there is")

	// Through a pool: alice's acquire opens a connection with alice's
	// token; while she holds it, a second acquire needs a new connection,
	// whose mint now hands out bob's token: it fails instead of opening a
	// connection of bob's in alice's pool.
	m, err := manager.New(manager.Config{Server: "memdb:1/pin", Dialer: memdb.New(), MaxSize: 2})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close(testCtx(t))) })
	id, err = tokens.TokenFuncIdentity(func(context.Context) (tokens.Token, error) {
		return tokens.Token{Value: *next.Load(), ExpiresOn: time.Now().Add(time.Hour)}, nil
	})
	require.NoError(t, err)
	set(jwtOf("RS256", "alice"))
	lease, err := m.Acquire(testCtx(t), id)
	require.NoError(t, err)
	defer lease.Release(nil)
	set(jwtOf("RS256", "bob"))
	_, err = m.Acquire(testCtx(t), id)
	require.Error(t, err)
	assert.ErrorContains(t, err, "another principal")
}
