package tokens_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/tokens"
)

// TestALearnedKeyIsCurrentOnlyWhileItsOwnNewestTokenIs: a token-keyed
// identity's key, once learned, was returned by ResolveKeyChecked whatever
// its check said of the identity's tokens since: one whose source had only
// ever returned a token that has since expired (another identity's first
// token, held by whoever built this one) kept being handed the key, and so
// the pool's connections. Judged with a check, the key now stands only
// while the check accepts the newest token the identity's own source
// returned: after that the call mints again and fails unless the check
// accepts the new token. A source still minting (through its pool's mints,
// which go through Source) stays current and pays nothing.
func TestALearnedKeyIsCurrentOnlyWhileItsOwnNewestTokenIs(t *testing.T) {
	ctx := context.Background()
	start := time.Now().Truncate(time.Second)
	now := start
	check := func(tok tokens.Token) error {
		if tok.ValidBeyond(now, 0) {
			return nil
		}
		return fmt.Errorf("expired at %s", tok.ExpiresOn)
	}
	first := tokens.Token{Value: "opaque-first-token", ExpiresOn: start.Add(30 * time.Minute)}
	mints := 0
	holder, err := tokens.TokenFuncIdentity(func(context.Context) (tokens.Token, error) {
		mints++
		return first, nil
	})
	require.NoError(t, err)
	renewals := 0
	renewing, err := tokens.TokenFuncIdentity(func(context.Context) (tokens.Token, error) {
		renewals++
		return tokens.Token{Value: fmt.Sprint("opaque-renewal-", renewals), ExpiresOn: now.Add(time.Hour)}, nil
	})
	require.NoError(t, err)

	key, minted, err := holder.ResolveKeyChecked(ctx, check)
	require.NoError(t, err)
	require.True(t, minted)
	assert.True(t, holder.KeyCurrent(check), "its token is valid")
	_, _, err = renewing.ResolveKeyChecked(ctx, check)
	require.NoError(t, err)

	now = start.Add(40 * time.Minute) // first has expired
	assert.False(t, holder.KeyCurrent(check), "its only token has expired")
	for i := range 2 {
		disc, minted, err := holder.ResolveKeyChecked(ctx, check)
		require.Error(t, err, "call %d: the key was handed out on an expired token", i)
		assert.Empty(t, disc)
		assert.True(t, minted, "call %d: its source was asked again", i)
		assert.NotContains(t, err.Error(), first.Value)
	}
	assert.Equal(t, 3, mints)
	disc, err := holder.Discriminator(ctx)
	require.NoError(t, err, "a nil check names the key, it authenticates nothing")
	assert.Equal(t, key, disc)

	// The renewing identity's pool mints through its Source: that token is
	// its newest, and its key is current without a mint of its own.
	_, err = renewing.Source().Token(ctx)
	require.NoError(t, err)
	assert.True(t, renewing.KeyCurrent(check))
	_, minted, err = renewing.ResolveKeyChecked(ctx, check)
	require.NoError(t, err)
	assert.False(t, minted)
	assert.Equal(t, 2, renewals)

	// Without such a mint, it mints once more and goes on.
	now = start.Add(3 * time.Hour)
	require.False(t, renewing.KeyCurrent(check))
	_, minted, err = renewing.ResolveKeyChecked(ctx, check)
	require.NoError(t, err)
	assert.True(t, minted)
	assert.True(t, renewing.KeyCurrent(check))
}
