package manager

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNewerCredentialServesWhenTheOlderOnesTokenIsRefused: two requests of
// one user race, each with the bearer token it was handed (the same
// principal, so one pool). The first's token is within TokenThreshold of its
// expiry; its mint is in flight when the second brings a fresh one. Both are
// served with the fresh token: the older credential's refused token fails
// nobody, and the fresh token's source is asked exactly once.
func TestNewerCredentialServesWhenTheOlderOnesTokenIsRefused(t *testing.T) {
	clock := &skewClock{}
	m, db := newManager(t, Config{MaxSize: 4, Clock: clock})
	user := tokens.Principal{TenantID: "t1", ObjectID: "o1"}
	called, release := make(chan struct{}), make(chan struct{})
	var oldMints, newMints atomic.Int32
	id1, err := tokens.VouchedTokenIdentity(user, tokens.SourceFunc(func(ctx context.Context) (tokens.Token, error) {
		if oldMints.Add(1) == 1 {
			close(called)
		}
		<-release
		return tokens.Token{Value: "old-user-token", ExpiresOn: clock.Now().Add(3 * time.Minute)}, nil
	}))
	require.NoError(t, err)
	id2, err := tokens.VouchedTokenIdentity(user, tokens.SourceFunc(func(ctx context.Context) (tokens.Token, error) {
		newMints.Add(1)
		return tokens.Token{Value: "new-user-token", ExpiresOn: clock.Now().Add(time.Hour)}, nil
	}))
	require.NoError(t, err)

	type result struct {
		l   *Lease
		err error
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r1, r2 := make(chan result, 1), make(chan result, 1)
	go func() { l, err := m.Acquire(ctx, id1); r1 <- result{l, err} }()
	<-called
	go func() { l, err := m.Acquire(ctx, id2); r2 <- result{l, err} }()
	eventually(t, func() bool { return m.Stats().Total.CredentialChanges == 1 }, "the second acquire reached the pool")
	close(release)
	for i, ch := range []chan result{r1, r2} {
		r := <-ch
		if assert.NoError(t, r.err, "acquire %d failed for the older credential's token", i+1) {
			r.l.Release(nil)
		}
	}
	// Both queued acquires waited for the mint: two dials, the second of
	// which may still be in flight when the first lease is back.
	eventually(t, func() bool { return m.Stats().Total.Dialing == 0 }, "the dials never settled")
	assert.EqualValues(t, 1, oldMints.Load())
	assert.EqualValues(t, 1, newMints.Load(), "one mint of the new credential serves both dials")
	for _, a := range db.DialAttempts() {
		assert.Equal(t, (tokens.Token{Value: "new-user-token"}).Fingerprint(), a.TokenFingerprint, "no dial with the refused token")
	}
	assert.Len(t, db.DialAttempts(), 2)
}
