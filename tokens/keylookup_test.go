package tokens_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/tokens"
)

// TestKeyLookupIsSingleFlight: 32 callers ask a token-keyed identity for
// its key at once; the source is called once, exactly one caller reports
// that it minted, and all get the same key.
func TestKeyLookupIsSingleFlight(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	id, err := tokens.TokenFuncIdentity(func(ctx context.Context) (tokens.Token, error) {
		calls.Add(1)
		<-release
		return tokens.Token{Value: "the-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
	})
	require.NoError(t, err)
	require.False(t, id.KeyResolved())
	var wg sync.WaitGroup
	var minted atomic.Int32
	discs := make([]string, 32)
	started := make(chan struct{}, 32)
	for i := range discs {
		wg.Go(func() {
			started <- struct{}{}
			d, m, err := id.ResolveKey(testCtx(t))
			assert.NoError(t, err)
			if m {
				minted.Add(1)
			}
			discs[i] = d
		})
	}
	for range discs {
		<-started
	}
	close(release)
	wg.Wait()
	assert.EqualValues(t, 1, calls.Load())
	assert.EqualValues(t, 1, minted.Load())
	for _, d := range discs {
		assert.Equal(t, discs[0], d)
	}
	assert.True(t, id.KeyResolved())
}

// TestKeyLookupRespectsCtxAndRetriesAfterFailure: a waiter whose ctx ends
// returns its ctx error; when the minting caller's ctx ends, a waiter with
// time left takes over; a failed lookup is not remembered.
func TestKeyLookupRespectsCtxAndRetriesAfterFailure(t *testing.T) {
	var calls atomic.Int32
	fail := atomic.Bool{}
	fail.Store(true)
	id, err := tokens.TokenFuncIdentity(func(ctx context.Context) (tokens.Token, error) {
		calls.Add(1)
		if fail.Load() {
			return tokens.Token{}, errors.New("token service down")
		}
		return tokens.Token{Value: "v", ExpiresOn: time.Now().Add(time.Hour)}, nil
	})
	require.NoError(t, err)
	_, minted, err := id.ResolveKey(testCtx(t))
	require.ErrorContains(t, err, "token service down")
	assert.True(t, minted)
	fail.Store(false)
	_, minted, err = id.ResolveKey(testCtx(t))
	require.NoError(t, err, "a failure is not remembered")
	assert.True(t, minted)
	assert.EqualValues(t, 2, calls.Load())

	// A source that honours its ctx: the leader's ctx ends, a follower takes over.
	entered := make(chan struct{}, 2)
	blocking, err := tokens.TokenFuncIdentity(func(ctx context.Context) (tokens.Token, error) {
		entered <- struct{}{}
		<-ctx.Done()
		return tokens.Token{}, ctx.Err()
	})
	require.NoError(t, err)
	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	leaderDone := make(chan error, 1)
	go func() { _, _, err := blocking.ResolveKey(leaderCtx); leaderDone <- err }()
	<-entered
	followerCtx, cancelFollower := context.WithCancel(context.Background())
	followerDone := make(chan error, 1)
	go func() { _, _, err := blocking.ResolveKey(followerCtx); followerDone <- err }()
	cancelLeader()
	require.ErrorIs(t, <-leaderDone, context.Canceled)
	<-entered // the follower took over and minted
	cancelFollower()
	require.ErrorIs(t, <-followerDone, context.Canceled)
}

// TestKeyLookupOutlivesNoCtx: a source that ignores its ctx holds neither
// the minting caller nor a waiter past its ctx's end; what it returns later
// still teaches the identity its key.
func TestKeyLookupOutlivesNoCtx(t *testing.T) {
	entered, release := make(chan struct{}, 1), make(chan struct{})
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	id, err := tokens.TokenFuncIdentity(func(context.Context) (tokens.Token, error) {
		entered <- struct{}{}
		<-release // ignores its ctx
		return tokens.Token{Value: "late", ExpiresOn: time.Now().Add(time.Hour)}, nil
	})
	require.NoError(t, err)
	lead, cancelLead := context.WithCancel(context.Background())
	leadDone := make(chan error, 1)
	go func() {
		_, minted, err := id.ResolveKey(lead)
		assert.True(t, minted, "it started the mint")
		leadDone <- err
	}()
	<-entered
	follow, cancelFollow := context.WithCancel(context.Background())
	followDone := make(chan error, 1)
	go func() { _, _, err := id.ResolveKey(follow); followDone <- err }()
	cancelLead()
	require.ErrorIs(t, <-leadDone, context.Canceled)
	cancelFollow()
	require.ErrorIs(t, <-followDone, context.Canceled)
	assert.False(t, id.KeyResolved())
	close(release)
	require.Eventually(t, id.KeyResolved, 5*time.Second, time.Millisecond, "the late token is kept")
	d, minted, err := id.ResolveKey(context.Background())
	require.NoError(t, err)
	assert.False(t, minted)
	assert.NotEmpty(t, d)
}
