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

// docs/OPERATIONS.md ("Reading a stuck pool", Pools keeps growing): an
// identity keyed by its principal finds the same key when built anew per
// request, while a token-keyed one built anew over a new credential mints
// to learn its key each time and gets another key: a pool per request.
func TestARebuiltIdentityKeepsItsKeyOnlyWhenKeyedByItsPrincipal(t *testing.T) {
	var keys []string
	for range 2 {
		id, err := tokens.ClientSecretIdentity(tenant, "app-rebuilt", "pw", nil)
		require.NoError(t, err)
		keys = append(keys, discriminator(t, id))
	}
	assert.Equal(t, keys[0], keys[1], "keyed by its principal: one pool")

	mints := 0
	keys = nil
	for range 2 {
		// A new credential per request: each hands out a token of its own.
		id, err := tokens.TokenFuncIdentity(func(context.Context) (tokens.Token, error) {
			mints++
			return tokens.Token{Value: fmt.Sprint("opaque-token-", mints), ExpiresOn: time.Now().Add(time.Hour)}, nil
		})
		require.NoError(t, err)
		keys = append(keys, discriminator(t, id))
	}
	assert.Equal(t, 2, mints, "each new value mints to learn its key")
	assert.NotEqual(t, keys[0], keys[1], "token-keyed, over a new credential: another pool")
}
