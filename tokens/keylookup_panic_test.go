package tokens_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/tokens"
)

// TestKeyLookupSurvivesAPanickingSource: a token source that panics while a
// token-keyed identity learns its key fails that lookup with an error, as a
// panic in a pool's own mint does, and the next lookup mints again. The
// panic used to escape to the caller (Acquire, the facade) with the lookup
// still marked in flight, so every later lookup of the identity, and of its
// copies, waited for its ctx to end.
func TestKeyLookupSurvivesAPanickingSource(t *testing.T) {
	var calls atomic.Int32
	id, err := tokens.TokenFuncIdentity(func(context.Context) (tokens.Token, error) {
		if calls.Add(1) == 1 {
			panic("credential bug: secret-in-panic")
		}
		return tokens.Token{Value: "the-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
	})
	require.NoError(t, err)

	var lookupErr error
	require.NotPanics(t, func() { _, _, lookupErr = id.ResolveKey(testCtx(t)) })
	require.ErrorContains(t, lookupErr, "panicked")
	assert.NotContains(t, lookupErr.Error(), "secret-in-panic", "the panic value may hold anything: it is not printed")
	assert.False(t, id.KeyResolved())

	// A bounded ctx so that the bug fails the test instead of hanging it.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, minted, err := id.ResolveKey(ctx)
	require.NoError(t, err, "the lookup after the panic is not stuck behind it")
	assert.True(t, minted)
	assert.Contains(t, d, "tok:")
	assert.EqualValues(t, 2, calls.Load())
}
