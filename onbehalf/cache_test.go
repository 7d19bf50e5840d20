package onbehalf_test

import (
	"crypto/rand"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/idpool/idpool/internal/redacttest"
	"github.com/idpool/idpool/onbehalf"
	"github.com/idpool/idpool/tokens"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const tenant = "c0de0000-0000-4000-8000-00000000c0de"

func app(t *testing.T) *tokens.OnBehalfOf {
	t.Helper()
	a, err := tokens.NewOnBehalfOfSecret(tenant, "api", "secret", nil)
	require.NoError(t, err)
	return a
}

func user(i int) tokens.Principal {
	return tokens.Principal{TenantID: tenant, ObjectID: fmt.Sprintf("user-%d", i)}
}

// TestSameAssertionReusesTheIdentityANewOneReplacesIt: the credential of a
// user's last assertion is reused (so its token cache is); a renewed
// assertion builds a new credential, which the pool will adopt; the key
// stays the user's either way. Principals compare case-insensitively.
func TestSameAssertionReusesTheIdentityANewOneReplacesIt(t *testing.T) {
	c, err := onbehalf.NewCache(app(t), 10)
	require.NoError(t, err)
	a1, err := c.Identity(user(1), "assertion-1")
	require.NoError(t, err)
	again, err := c.Identity(tokens.Principal{TenantID: tenant, ObjectID: "USER-1"}, "assertion-1")
	require.NoError(t, err)
	assert.True(t, a1.SameCredential(again), "same assertion: same credential")
	a2, err := c.Identity(user(1), "assertion-2")
	require.NoError(t, err)
	assert.False(t, a1.SameCredential(a2), "renewed: a new credential")
	d1, _ := a1.Discriminator(t.Context())
	d2, _ := a2.Discriminator(t.Context())
	assert.Equal(t, d1, d2, "one user, one pool")
	latest, err := c.Identity(user(1), "assertion-2")
	require.NoError(t, err)
	assert.True(t, a2.SameCredential(latest), "the newest is what is kept")
	assert.Equal(t, 1, c.Len())
}

// TestCacheIsBoundedLeastRecentlyUsedFirst: at its size the least recently
// used user goes; Forget drops one at once.
func TestCacheIsBoundedLeastRecentlyUsedFirst(t *testing.T) {
	c, err := onbehalf.NewCache(app(t), 3)
	require.NoError(t, err)
	ids := map[int]tokens.Identity{}
	for i := range 3 {
		ids[i], err = c.Identity(user(i), "a")
		require.NoError(t, err)
	}
	_, err = c.Identity(user(0), "a") // 0 is now the most recent; 1 the least
	require.NoError(t, err)
	_, err = c.Identity(user(3), "a")
	require.NoError(t, err)
	assert.Equal(t, 3, c.Len())
	// In this order: every lookup changes the order of use, and looking up
	// the evicted user 1 first would evict another before it is checked.
	for _, c2 := range []struct {
		user int
		kept bool
	}{{0, true}, {2, true}, {1, false}} {
		id, err := c.Identity(user(c2.user), "a")
		require.NoError(t, err)
		assert.Equal(t, c2.kept, id.SameCredential(ids[c2.user]), "user %d", c2.user)
	}
	c.Forget(user(0))
	id, err := c.Identity(user(0), "a")
	require.NoError(t, err)
	assert.False(t, id.SameCredential(ids[0]))
	for range 1000 {
		_, err := c.Identity(user(1000+int(rand.Text()[0])), "a")
		require.NoError(t, err)
	}
	assert.LessOrEqual(t, c.Len(), 3)
}

// TestCacheRefusesBadInputAndIsSafeConcurrently.
func TestCacheRefusesBadInputAndIsSafeConcurrently(t *testing.T) {
	_, err := onbehalf.NewCache(nil, 1)
	require.ErrorIs(t, err, tokens.ErrInvalidIdentity)
	var zero onbehalf.Cache
	_, err = zero.Identity(user(1), "a")
	require.ErrorIs(t, err, tokens.ErrInvalidIdentity)
	zero.Forget(user(1))
	assert.Zero(t, zero.Len())
	c, err := onbehalf.NewCache(app(t), 0)
	require.NoError(t, err)
	_, err = c.Identity(tokens.Principal{}, "a")
	require.ErrorIs(t, err, tokens.ErrInvalidIdentity)
	_, err = c.Identity(user(1), "")
	require.ErrorIs(t, err, tokens.ErrInvalidIdentity)

	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				_, err := c.Identity(user(i%17), fmt.Sprint("a", (i+g)%3))
				assert.NoError(t, err)
				if i%50 == 0 {
					c.Forget(user(i % 17))
				}
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, c.Len(), 17)
}

// TestCacheIsRedacted: the assertions and the app's secret never print.
func TestCacheIsRedacted(t *testing.T) {
	secret, assertion := "SENTINEL-"+rand.Text(), "ASSERTION-"+rand.Text()
	a, err := tokens.NewOnBehalfOfSecret(tenant, "api", secret, nil)
	require.NoError(t, err)
	c, err := onbehalf.NewCache(a, 2)
	require.NoError(t, err)
	_, err = c.Identity(user(1), assertion)
	require.NoError(t, err)
	redacttest.AssertRedacted(t, []string{secret, assertion}, c, onbehalf.Cache{})
}

// TestSizeZeroOrLessIsDefaultSize: NewCache's size 0 (or less) remembers
// DefaultSize users, 10,000, then drops the least recently used.
func TestSizeZeroOrLessIsDefaultSize(t *testing.T) {
	assert.Equal(t, 10_000, onbehalf.DefaultSize)
	for _, size := range []int{0, -1} {
		c, err := onbehalf.NewCache(app(t), size)
		require.NoError(t, err)
		for i := range onbehalf.DefaultSize + 1 {
			_, err := c.Identity(user(i), "a")
			require.NoError(t, err)
			if i == onbehalf.DefaultSize-1 {
				assert.Equal(t, onbehalf.DefaultSize, c.Len(), "size %d: every user kept up to DefaultSize", size)
			}
		}
		assert.Equal(t, onbehalf.DefaultSize, c.Len(), "size %d", size)
	}
}

// TestCacheTellsUsersApartAsThePoolsDo: the cache is keyed by principal as
// the pools are. It used to fold with strings.ToLower, which maps the Kelvin
// sign U+212A to 'k': a lookup of user "\u212aate" found the Identity
// cached for "kate", and so kate's pool key.
func TestCacheTellsUsersApartAsThePoolsDo(t *testing.T) {
	c, err := onbehalf.NewCache(app(t), 10)
	require.NoError(t, err)
	kate := tokens.Principal{TenantID: tenant, ObjectID: "kate"}
	lookalike := tokens.Principal{TenantID: tenant, ObjectID: "\u212aate"}
	k, err := c.Identity(kate, "a")
	require.NoError(t, err)
	l, err := c.Identity(lookalike, "a")
	require.NoError(t, err)
	dk, err := k.Discriminator(t.Context())
	require.NoError(t, err)
	dl, err := l.Discriminator(t.Context())
	require.NoError(t, err)
	assert.NotEqual(t, dk, dl, "two users, two pools")
	assert.False(t, k.SameCredential(l))
	assert.Equal(t, 2, c.Len())
	again, err := c.Identity(tokens.Principal{TenantID: tenant, ObjectID: "KATE"}, "a")
	require.NoError(t, err)
	assert.True(t, again.SameCredential(k), "ASCII case still names one user")
}

// assertionExpiring is an unsigned JWT of user 1 whose exp is at: the cache
// reads exp only to order assertions the caller has verified.
func assertionExpiring(t *testing.T, at time.Time) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{
		"tid": tenant, "oid": "user-1", "exp": at.Unix(),
	}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	return tok
}

// TestAnAssertionThatExpiresSoonerGetsTheKeptOne: a user's client still
// sending the token it got an hour ago, after another client sent a renewed
// one, must not switch the user's pool back to a credential whose assertion
// expires first; a renewed assertion that expires later still replaces it.
func TestAnAssertionThatExpiresSoonerGetsTheKeptOne(t *testing.T) {
	c, err := onbehalf.NewCache(app(t), 10)
	require.NoError(t, err)
	now := time.Now()
	renewed, err := c.Identity(user(1), assertionExpiring(t, now.Add(2*time.Hour)))
	require.NoError(t, err)
	older, err := c.Identity(user(1), assertionExpiring(t, now.Add(time.Hour)))
	require.NoError(t, err)
	assert.True(t, renewed.SameCredential(older), "the assertion that expires first gets the kept, later one")
	latest, err := c.Identity(user(1), assertionExpiring(t, now.Add(3*time.Hour)))
	require.NoError(t, err)
	assert.False(t, renewed.SameCredential(latest), "a later expiry replaces the kept one")
	again, err := c.Identity(user(1), assertionExpiring(t, now.Add(2*time.Hour)))
	require.NoError(t, err)
	assert.True(t, latest.SameCredential(again), "and stays kept")
}

// TestAssertionsWithoutAReadableExpiryGoByArrival: an opaque assertion, or
// one whose exp is not a number, orders by arrival, as before exp was read;
// neither can pin the kept one against a renewal.
func TestAssertionsWithoutAReadableExpiryGoByArrival(t *testing.T) {
	c, err := onbehalf.NewCache(app(t), 10)
	require.NoError(t, err)
	badExp, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"exp": "tomorrow"}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	late := assertionExpiring(t, time.Now().Add(3*time.Hour))
	for _, next := range []string{"opaque", badExp} {
		kept, err := c.Identity(user(1), late)
		require.NoError(t, err)
		got, err := c.Identity(user(1), next)
		require.NoError(t, err)
		assert.False(t, kept.SameCredential(got), "%q replaces the kept one", next)
		after, err := c.Identity(user(1), late)
		require.NoError(t, err)
		assert.False(t, got.SameCredential(after), "and is replaced by the next")
	}
}

// TestRequestsRacingWithOneNewAssertionShareOneIdentity: the first requests
// of a user arrive together with one assertion; whichever builds first, all
// get one Identity (one credential: one exchange at the pool's next dial).
// Whether they race here is up to the scheduler, so a broken store fails it
// only now and then; TestTwoBuildersOfOneAssertionStoreOne plays the race
// step by step, and this one runs the real thing under -race.
func TestRequestsRacingWithOneNewAssertionShareOneIdentity(t *testing.T) {
	c, err := onbehalf.NewCache(app(t), 10)
	require.NoError(t, err)
	const n = 16
	ids := make([]tokens.Identity, n)
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range n {
		wg.Go(func() {
			start.Wait()
			id, err := c.Identity(user(1), "the-first-assertion")
			assert.NoError(t, err)
			ids[i] = id
		})
	}
	start.Done()
	wg.Wait()
	for _, id := range ids[1:] {
		assert.True(t, ids[0].SameCredential(id))
	}
}

// TestNewCacheRefusesTheZeroApp: new(tokens.OnBehalfOf) names no app;
// NewCache took it, and every Identity then panicked on the nil
// credential constructor inside tokens. It is refused by NewCache.
func TestNewCacheRefusesTheZeroApp(t *testing.T) {
	c, err := onbehalf.NewCache(new(tokens.OnBehalfOf), 10)
	require.ErrorIs(t, err, tokens.ErrInvalidIdentity)
	assert.Contains(t, err.Error(), "zero tokens.OnBehalfOf")
	assert.Equal(t, onbehalf.Cache{}, c)
	assert.NotPanics(t, func() {
		_, err = c.Identity(user(1), "a")
	})
	require.ErrorIs(t, err, tokens.ErrInvalidIdentity)
}
