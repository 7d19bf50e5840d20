package manager

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
)

// TestAKeyLearnedWhileItsTokenWasValidServesNoLongerThanTheToken: a
// TokenFuncIdentity whose first token is T is keyed "tok:<hash of T>".
// Another token-keyed identity whose function returns T (whoever held T:
// a log line, a stolen header, a session an API built from a token its
// caller sent) learns the same key while T is valid, and shares the pool:
// it holds a valid token of that principal. Once T has expired, a handed-in
// T gets nothing (TestAnExpiredHandedInTokenGetsNoHitOnItsKeysNewerConnections)
// and a new identity over T learns no key (TestAnExpiredTokenTeachesNoKey),
// but the identity that had learned the key kept it, and a pool hit mints
// nothing: it went on being served the connections the first identity
// opened with its newer tokens, for as long as it kept its Identity value.
// Its acquire must now fail for T's expiry, with no dial, through Acquire
// and through the facade's identity check alike; the first identity, whose
// function mints renewals, is still served.
func TestAKeyLearnedWhileItsTokenWasValidServesNoLongerThanTheToken(t *testing.T) {
	clock := &skewClock{}
	keep := 10 * time.Hour
	m, db := newManager(t, Config{MaxSize: 2, Clock: clock, IdleTimeout: keep, MaxLifetime: keep, PoolIdleTimeout: keep})
	start := clock.Now().Truncate(time.Second)
	first := principalToken(t, start.Add(30*time.Minute))
	victim := renewingIdentity(t, clock, first)
	acquire(t, m, victim).Release(nil) // it learns its key from first
	holder, err := tokens.TokenFuncIdentity(func(context.Context) (tokens.Token, error) { return first, nil })
	require.NoError(t, err)
	acquire(t, m, holder).Release(nil) // first is valid: the holder learns the same key

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	facade := openFacade(t, m)
	conn, err := facade.Conn(tokens.WithIdentity(ctx, victim))
	require.NoError(t, err)
	defer conn.Close()

	clock.Advance(40 * time.Minute) // first expired ten minutes ago
	l := acquire(t, m, victim)
	renewed := l.Raw().(*memdb.Conn).TokenFingerprint()
	require.NotEqual(t, first.Fingerprint(), renewed, "the victim's connection has its renewal")
	l.Release(nil)
	dials := len(db.DialAttempts())

	for i := range 2 {
		l, err := m.Acquire(ctx, holder)
		if err == nil {
			got := l.Raw().(*memdb.Conn).TokenFingerprint()
			l.Release(nil)
			t.Fatalf("acquire %d: the holder of an expired token was served a connection logged in with %s (the victim's renewal is %s)", i, got, renewed)
		}
		var te *actors.TokenExpiryError
		require.True(t, errors.As(err, &te), "acquire %d: %v", i, err)
		assert.NotContains(t, err.Error(), first.Value)
	}
	var who string
	require.NoError(t, conn.QueryRowContext(tokens.WithIdentity(ctx, victim), "SELECT IDENTITY").Scan(&who))
	err = conn.QueryRowContext(tokens.WithIdentity(ctx, holder), "SELECT IDENTITY").Scan(&who)
	var te *actors.TokenExpiryError
	require.True(t, errors.As(err, &te), "the holder of an expired token ran on the victim's connection: %v", err)
	assert.NotContains(t, err.Error(), first.Value)
	assert.Len(t, db.DialAttempts(), dials, "no dial for an expired token")

	acquire(t, m, victim).Release(nil) // the victim, whose function mints renewals, is served
}

// TestEvictDropsTheConnectionsOfAKeyWhoseTokenExpired: Evict takes an
// identity's pool away from it (a user disabled, a session ended). A
// token-keyed identity whose only token has expired can no longer be
// served its pool, and must still be evicted by its learned key, minting
// nothing: its source can give no token that would pass.
func TestEvictDropsTheConnectionsOfAKeyWhoseTokenExpired(t *testing.T) {
	clock := &skewClock{}
	keep := 10 * time.Hour
	m, _ := newManager(t, Config{MaxSize: 2, Clock: clock, IdleTimeout: keep, MaxLifetime: keep, PoolIdleTimeout: keep})
	tok := principalToken(t, clock.Now().Add(30*time.Minute))
	mints := 0
	id, err := tokens.TokenFuncIdentity(func(context.Context) (tokens.Token, error) {
		mints++
		return tok, nil
	})
	require.NoError(t, err)
	acquire(t, m, id).Release(nil)
	// Release only sends: the pool must have taken the connection back
	// before the clock moves, or it closes it then for its token's expiry.
	require.Equal(t, 1, m.Stats().Total.Idle, "the release reached the pool")
	minted := mints
	clock.Advance(40 * time.Minute)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, m.Evict(ctx, id))
	assert.EqualValues(t, 1, m.Stats().Total.Closes["evicted"], "%v", m.Stats().Total.Closes)
	assert.Equal(t, minted, mints, "Evict minted")
}

// TestATokenKeyedIdentityEndsItsOwnTransaction: as a token handed in does
// (TestAHandedInTokenEndsItsOwnTransaction), a token-keyed identity whose
// only token expires while it holds a transaction goes on with it, its ctx
// carrying that same identity: the lease was granted to this very
// credential. A new call is a new acquire, and is refused.
func TestATokenKeyedIdentityEndsItsOwnTransaction(t *testing.T) {
	clock := &skewClock{}
	keep := 10 * time.Hour
	m, _ := newManager(t, Config{MaxSize: 2, Clock: clock, IdleTimeout: keep, MaxLifetime: keep, PoolIdleTimeout: keep})
	facade := openFacade(t, m)
	tok := principalToken(t, clock.Now().Add(20*time.Minute).Truncate(time.Second))
	id, err := tokens.TokenFuncIdentity(func(context.Context) (tokens.Token, error) { return tok, nil })
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(tokens.WithIdentity(context.Background(), id), 5*time.Second)
	defer cancel()
	tx, err := facade.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	_, err = tx.ExecContext(ctx, "INSERT INTO t")
	require.NoError(t, err)

	clock.Advance(25 * time.Minute)
	_, err = tx.ExecContext(ctx, "INSERT INTO t")
	require.NoError(t, err, "its own transaction")
	require.NoError(t, tx.Commit())

	_, err = facade.ExecContext(ctx, "INSERT INTO t")
	var te *actors.TokenExpiryError
	assert.True(t, errors.As(err, &te), "a new call is a new acquire: %v", err)
}
