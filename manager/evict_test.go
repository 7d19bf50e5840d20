package manager

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
)

// TestEvictClosesOneIdentitysConnectionsAndNothingElse: Alice has an idle
// and a leased connection, Bob an idle one. Evict(Alice) closes her idle one
// at once, waits for the leased one, and returns once it is closed; Bob's
// stays; Alice's next acquire gets a new connection. Reset then drops Bob's.
func TestEvictClosesOneIdentitysConnectionsAndNothingElse(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 4})
	alice, bob := identity("alice"), identity("bob")
	a1, a2, b1 := acquire(t, m, alice), acquire(t, m, alice), acquire(t, m, bob)
	busy, idleA, idleB := connID(a1), connID(a2), connID(b1)
	a2.Release(nil)
	b1.Release(nil)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- m.Evict(ctx, alice) }()
	eventually(t, func() bool { return !open(db, idleA) }, "Alice's idle connection was not closed at once")
	select {
	case err := <-done:
		t.Fatalf("Evict returned (%v) while Alice's leased connection was still out", err)
	default:
	}
	assert.True(t, open(db, busy), "a leased connection is not closed under its holder")
	a1.Release(nil)
	require.NoError(t, <-done)
	assert.False(t, open(db, busy))
	assert.True(t, open(db, idleB), "Bob's connection is untouched")

	l := acquire(t, m, alice)
	assert.NotContains(t, []int64{busy, idleA}, connID(l))
	l.Release(nil)
	st := m.Stats().Total
	assert.EqualValues(t, 1, st.Evictions)
	assert.EqualValues(t, 2, st.Closes["evicted"])

	require.NoError(t, m.Reset(ctx))
	assert.False(t, open(db, idleB), "Reset drops every pool's connections")
	assert.EqualValues(t, 3, m.Stats().Total.Evictions)
	require.NoError(t, m.Evict(ctx, identity("nobody")), "no pool: nothing to do")
	require.ErrorIs(t, m.Evict(ctx, tokens.Identity{}), tokens.ErrInvalidIdentity)
}

// TestEvictReturnsWhenItsCtxEnds: a lease that is never released keeps
// Evict from finishing; Evict returns with its ctx's error.
func TestEvictReturnsWhenItsCtxEnds(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 2})
	alice := identity("alice")
	l := acquire(t, m, alice)
	defer l.Release(nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, m.Evict(ctx, alice), context.Canceled)
	require.ErrorIs(t, m.Reset(ctx), context.Canceled)
}

// TestTokenKeyedLookupIsBoundedByMintTimeoutAndCounted: a token-keyed
// identity whose source hangs fails its acquire after MintTimeout (the ctx
// has no deadline), counted as a failed mint; a working one is counted as a
// mint, its pool's own mint too; 20 concurrent first acquires mint the key
// once.
func TestTokenKeyedLookupIsBoundedByMintTimeoutAndCounted(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 20, MintTimeout: 50 * time.Millisecond})
	hang, err := tokens.TokenFuncIdentity(func(ctx context.Context) (tokens.Token, error) {
		<-ctx.Done()
		return tokens.Token{}, ctx.Err()
	})
	require.NoError(t, err)
	_, err = m.Acquire(context.Background(), hang)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.EqualValues(t, 1, m.Stats().Total.MintFailures)

	var calls atomic.Int32
	release := make(chan struct{})
	ok, err := tokens.TokenFuncIdentity(func(ctx context.Context) (tokens.Token, error) {
		calls.Add(1)
		select {
		case <-release:
		case <-ctx.Done():
			return tokens.Token{}, errors.New("released too late")
		}
		return tokens.Token{Value: "tok", ExpiresOn: time.Now().Add(time.Hour)}, nil
	})
	require.NoError(t, err)
	close(release)
	leases := make(chan *Lease, 20)
	for range 20 {
		go func() {
			l, err := m.Acquire(context.Background(), ok)
			assert.NoError(t, err)
			leases <- l
		}()
	}
	for range 20 {
		if l := <-leases; l != nil {
			l.Release(nil)
		}
	}
	// A mint of the pool's may still be in flight when the last lease is
	// back: the source counted its call as it began, the pool counts the
	// mint once the result reaches it.
	st := statsWhen(t, m, func(s Stats) bool { return s.Total.Minting == 0 && s.Total.Dialing == 0 },
		"the pool's mints and dials settled").Total
	assert.EqualValues(t, 1, st.MintFailures)
	assert.GreaterOrEqual(t, calls.Load(), int32(2), "the lookup and the pool's own mint")
	assert.EqualValues(t, calls.Load(), st.TokenMints, "every call of the source is a counted mint")
}

// open reports whether memdb's connection id has not been closed.
func open(db *memdb.DB, id int64) bool {
	c, ok := db.Conn(id)
	return ok && !c.Closed
}
