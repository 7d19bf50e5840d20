package onbehalf

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/tokens"
)

// TestTwoBuildersOfOneAssertionStoreOne plays the race that the public
// test can only hope for: two requests both miss the lookup with one new
// assertion, both build an Identity, and the second to store is handed the
// first one's, not its own (which would be a second credential, and so a
// second token exchange at the pool's next dial).
func TestTwoBuildersOfOneAssertionStoreOne(t *testing.T) {
	app, err := tokens.NewOnBehalfOfSecret("c0de0000-0000-4000-8000-00000000c0de", "api", "secret", nil)
	require.NoError(t, err)
	c, err := NewCache(app, 10)
	require.NoError(t, err)
	user := tokens.Principal{TenantID: "c0de0000-0000-4000-8000-00000000c0de", ObjectID: "user-1"}
	key := cacheKey(user)
	for range 2 {
		_, hit := c.s.lookup(key, "new", noExpiry)
		require.False(t, hit)
	}
	first, err := app.Identity(user, "new")
	require.NoError(t, err)
	second, err := app.Identity(user, "new")
	require.NoError(t, err)
	require.False(t, first.SameCredential(second))
	assert.True(t, first.SameCredential(c.s.store(key, "new", noExpiry, first)))
	assert.True(t, first.SameCredential(c.s.store(key, "new", noExpiry, second)), "the second builder gets the stored one")
}

// noExpiry is an opaque assertion's issue and expiry: unknown.
var noExpiry = stamp{}
