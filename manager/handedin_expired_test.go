package manager

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
)

// unsignedJWT is a token with the claims given (alg none: the pool never
// verifies a token, the server does).
func unsignedJWT(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	return s
}

// expiredFirst is a Manager on a clock it can move, and a TokenFuncIdentity
// whose first token (first, expiring at start+30m) taught it its key and
// opened a connection, the clock then moved 40 minutes on: first expired
// ten minutes ago, and the identity's next dial uses a renewal.
type expiredFirst struct {
	m     *Manager
	db    *memdb.DB
	clock *skewClock
	start time.Time
	first tokens.Token
	fn    tokens.Identity
}

func newExpiredFirst(t *testing.T) expiredFirst {
	t.Helper()
	clock := &skewClock{}
	keep := 10 * time.Hour
	m, db := newManager(t, Config{MaxSize: 2, Clock: clock, IdleTimeout: keep, MaxLifetime: keep, PoolIdleTimeout: keep})
	start := clock.Now().Truncate(time.Second)
	first := principalToken(t, start.Add(30*time.Minute))
	fn := renewingIdentity(t, clock, first)
	acquire(t, m, fn).Release(nil) // it learns its key from its first token
	clock.Advance(40 * time.Minute)
	return expiredFirst{m: m, db: db, clock: clock, start: start, first: first, fn: fn}
}

// TestAnExpiredHandedInTokenGetsNoHitOnItsKeysNewerConnections: a
// TokenFuncIdentity whose first token was T is keyed "tok:<hash of T>",
// the very key of StaticTokenIdentity(T). Once T has expired, the function
// identity goes on opening connections in that pool with its newer tokens.
// Whoever still holds T (a log line, a stolen header) and hands it in used
// to be served those connections: a pool hit mints nothing, so nothing
// judged T. An expired handed-in token must authenticate nothing: the
// acquire fails with a TokenExpiryError before its pool is looked up, by
// Acquire and so by the facade and drivers/postgres, which share it; and
// whatever expiry the caller named, the token's exp claim is the limit.
func TestAnExpiredHandedInTokenGetsNoHitOnItsKeysNewerConnections(t *testing.T) {
	r := newExpiredFirst(t)
	m, db, clock, start, first, fn := r.m, r.db, r.clock, r.start, r.first.Value, r.fn
	l := acquire(t, m, fn)
	renewed := l.Raw().(*memdb.Conn).TokenFingerprint()
	require.NotEqual(t, tokens.Token{Value: first}.Fingerprint(), renewed, "the function identity's connection has its renewal")
	l.Release(nil)
	dials := len(db.DialAttempts())
	facade := openFacade(t, m)

	for name, expiresOn := range map[string]time.Time{
		"expiry from its exp claim":      {},
		"a later expiry named":           clock.Now().Add(time.Hour),
		"the expiry named, already past": start.Add(20 * time.Minute),
	} {
		t.Run(name, func(t *testing.T) {
			static, err := tokens.StaticTokenIdentity(first, expiresOn)
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			l, err := m.Acquire(ctx, static)
			if err == nil {
				got := l.Raw().(*memdb.Conn).TokenFingerprint()
				l.Release(nil)
				t.Fatalf("an expired handed-in token was served a connection (logged in with %s)", got)
			}
			var te *actors.TokenExpiryError
			require.True(t, errors.As(err, &te), "%v", err)
			assert.False(t, te.ExpiresOn.After(start.Add(30*time.Minute)), "the error names the token's expiry: %s", te.ExpiresOn)
			assert.NotContains(t, err.Error(), first)
			assert.Len(t, db.DialAttempts(), dials, "no dial for an expired token")

			var who string
			err = facade.QueryRowContext(tokens.WithIdentity(ctx, static), "SELECT IDENTITY").Scan(&who)
			require.True(t, errors.As(err, &te), "through the facade: %v (served as %q)", err, who)
			assert.NotContains(t, err.Error(), first)
		})
	}
	// The function identity itself, whose source mints renewals, is served.
	acquire(t, m, fn).Release(nil)
}

// TestAnExpiredTokenTeachesNoKey: the same hit through a token-keyed
// identity. Whoever holds the function identity's expired first token T
// builds a TokenFuncIdentity of their own that returns T: it learns the
// key "tok:<hash of T>" from T, and its acquires were then served the
// connections the first identity opened with its newer tokens, this one
// and every later one (the key stays learned, and a pool hit mints
// nothing). A token that the pool would refuse to dial with teaches no
// key: the acquire fails with a TokenExpiryError, and so does the next.
func TestAnExpiredTokenTeachesNoKey(t *testing.T) {
	r := newExpiredFirst(t)
	m, db, first, victim := r.m, r.db, r.first, r.fn
	acquire(t, m, victim).Release(nil)
	dials := len(db.DialAttempts())

	holder, err := tokens.TokenFuncIdentity(func(context.Context) (tokens.Token, error) { return first, nil })
	require.NoError(t, err)
	for i := 0; i < 2; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		l, err := m.Acquire(ctx, holder)
		cancel()
		if err == nil {
			got := l.Raw().(*memdb.Conn).TokenFingerprint()
			l.Release(nil)
			t.Fatalf("acquire %d: an expired token was served a connection (logged in with %s)", i, got)
		}
		var te *actors.TokenExpiryError
		require.True(t, errors.As(err, &te), "acquire %d: %v", i, err)
		assert.NotContains(t, err.Error(), first.Value)
		assert.False(t, holder.KeyResolved(), "an expired token taught its key")
	}
	assert.Len(t, db.DialAttempts(), dials, "no dial for an expired token")
	acquire(t, m, victim).Release(nil)
}

// TestAnExpiredHandedInTokenPassesNoIdentityCheck: a facade connection
// bound to one identity's lease checks that each call's identity has the
// lease's key (Lease.CheckIdentity, and the rebinding of a connection the
// default identity opened). An expired handed-in token has the key of the
// TokenFuncIdentity whose first token it was, and so passed the check and
// ran on that identity's connection: it must authenticate nothing there
// either.
func TestAnExpiredHandedInTokenPassesNoIdentityCheck(t *testing.T) {
	r := newExpiredFirst(t)
	m, first, fn := r.m, r.first.Value, r.fn
	static, err := tokens.StaticTokenIdentity(first, time.Time{})
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	db := openFacade(t, m)
	conn, err := db.Conn(tokens.WithIdentity(ctx, fn))
	require.NoError(t, err)
	defer conn.Close()
	var who string
	require.NoError(t, conn.QueryRowContext(tokens.WithIdentity(ctx, fn), "SELECT IDENTITY").Scan(&who))
	err = conn.QueryRowContext(tokens.WithIdentity(ctx, static), "SELECT IDENTITY").Scan(&who)
	var te *actors.TokenExpiryError
	require.True(t, errors.As(err, &te), "an expired handed-in token ran on the function identity's connection: %v", err)
	assert.NotContains(t, err.Error(), first)
}
