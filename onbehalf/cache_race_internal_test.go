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
	app, c := newRaceCache(t)
	user := tokens.Principal{TenantID: raceTenant, ObjectID: "user-1"}
	key := cacheKey(user)
	var pending [2]*pendingUser
	for i := range pending {
		_, hit, p := c.s.lookup(key, "new", noExpiry)
		require.False(t, hit)
		pending[i] = p
	}
	first, err := app.Identity(user, "new")
	require.NoError(t, err)
	second, err := app.Identity(user, "new")
	require.NoError(t, err)
	require.False(t, first.SameCredential(second))
	assert.True(t, first.SameCredential(c.s.store(key, "new", noExpiry, first, pending[0])))
	assert.True(t, first.SameCredential(c.s.store(key, "new", noExpiry, second, pending[1])), "the second builder gets the stored one")
	assert.Empty(t, c.s.pending, "nothing pending once both stored")
}

// raceTenant is the tenant of the app and users of these tests.
const raceTenant = "c0de0000-0000-4000-8000-00000000c0de"

// newRaceCache returns an on-behalf-of app and a cache of 10 users over it.
func newRaceCache(t *testing.T) (*tokens.OnBehalfOf, Cache) {
	t.Helper()
	app, err := tokens.NewOnBehalfOfSecret(raceTenant, "api", "secret", nil)
	require.NoError(t, err)
	c, err := NewCache(app, 10)
	require.NoError(t, err)
	return app, c
}

// noExpiry is an opaque assertion's issue and expiry: unknown.
var noExpiry = stamp{}

// TestARequestRacingAForgetDoesNotPutTheUserBack plays the race of a
// request and a Forget (a user signed out or disabled): the request missed
// the lookup and built an Identity, the Forget came before its store. The
// request gets its Identity; the cache keeps nothing of the user.
func TestARequestRacingAForgetDoesNotPutTheUserBack(t *testing.T) {
	app, c := newRaceCache(t)
	user := tokens.Principal{TenantID: raceTenant, ObjectID: "user-1"}
	key := cacheKey(user)

	// Not cached before: the store would add the user.
	_, hit, pending := c.s.lookup(key, "a1", noExpiry)
	require.False(t, hit)
	id, err := app.Identity(user, "a1")
	require.NoError(t, err)
	c.Forget(user)
	assert.True(t, id.SameCredential(c.s.store(key, "a1", noExpiry, id, pending)))
	assert.Zero(t, c.Len(), "the forgotten user was put back")

	// Cached again after the Forget (a new sign-in): a request from
	// before it does not replace that entry with its older assertion.
	_, _, before := c.s.lookup(key, "old", noExpiry)
	c.Forget(user)
	fresh, err := c.Identity(user, "fresh")
	require.NoError(t, err)
	old, err := app.Identity(user, "old")
	require.NoError(t, err)
	assert.True(t, old.SameCredential(c.s.store(key, "old", noExpiry, old, before)))
	got, err := c.Identity(user, "fresh")
	require.NoError(t, err)
	assert.True(t, fresh.SameCredential(got), "the entry stored after the Forget stays")
}

// Forgetting one user does not keep another's request, pending meanwhile,
// out of the cache; and a user's request begun after a Forget (a new
// sign-in) is cached even while one from before it is still pending.
// (Found by review: the first version counted Forgets for the whole cache.)
func TestAForgetMarksOnlyThatUsersPendingRequests(t *testing.T) {
	app, c := newRaceCache(t)
	userA := tokens.Principal{TenantID: raceTenant, ObjectID: "user-a"}
	userB := tokens.Principal{TenantID: raceTenant, ObjectID: "user-b"}
	keyA := cacheKey(userA)

	_, hit, pending := c.s.lookup(keyA, "a1", noExpiry)
	require.False(t, hit)
	id, err := app.Identity(userA, "a1")
	require.NoError(t, err)
	c.Forget(userB)
	c.s.store(keyA, "a1", noExpiry, id, pending)
	assert.Equal(t, 1, c.Len(), "user A was not cached because user B was forgotten")
	again, err := c.Identity(userA, "a1")
	require.NoError(t, err)
	assert.True(t, id.SameCredential(again))

	// User A forgotten with a request pending; a new sign-in after it.
	_, _, before := c.s.lookup(keyA, "a2", noExpiry)
	c.Forget(userA)
	_, _, after := c.s.lookup(keyA, "a3", noExpiry)
	newer, err := app.Identity(userA, "a3")
	require.NoError(t, err)
	assert.True(t, newer.SameCredential(c.s.store(keyA, "a3", noExpiry, newer, after)))
	assert.Equal(t, 1, c.Len(), "the sign-in after the Forget is cached")
	older, err := app.Identity(userA, "a2")
	require.NoError(t, err)
	c.s.store(keyA, "a2", noExpiry, older, before)
	got, err := c.Identity(userA, "a3")
	require.NoError(t, err)
	assert.True(t, newer.SameCredential(got), "the request from before the Forget replaced the new sign-in's entry")
	assert.Empty(t, c.s.pending)
}

// A build that fails leaves nothing pending.
func TestAFailedBuildLeavesNothingPending(t *testing.T) {
	_, c := newRaceCache(t)
	_, err := c.Identity(tokens.Principal{TenantID: "not a tenant", ObjectID: ""}, "a")
	require.Error(t, err)
	assert.Empty(t, c.s.pending)
}
