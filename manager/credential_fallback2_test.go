package manager

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestARefusedFallBackTokenReportsThePoolsOwnError: the pool's own
// credential (brought by the latest acquire) fails; the credential that
// minted last answers, but with a token the pool refuses (within
// TokenThreshold: a caller's bearer token near its end, a cache handing
// back a token the pool's threshold is wider than). The caller, who brought
// the credential that failed, is told of that credential's error, not that
// some token expires within the threshold, and the credential whose token
// the pool refused is not asked again at every later failure.
func TestARefusedFallBackTokenReportsThePoolsOwnError(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 4, DialBackoff: -1})
	var gMints, xMints atomic.Int32
	g := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		if gMints.Add(1) == 1 {
			return tokens.Token{Value: "g-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
		}
		// Its cached token, now within the default 5-minute threshold.
		return tokens.Token{Value: "g-token-2", ExpiresOn: time.Now().Add(2 * time.Minute)}, nil
	}))
	x := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&xMints, "", 0, errors.New("AADSTS7000215: invalid client secret")))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	held := acquire(t, m, g)
	defer held.Release(nil)
	for i := 0; i < 3; i++ {
		_, err := m.Acquire(ctx, x) // a dial: the only connection is held
		require.Error(t, err)
		assert.Contains(t, err.Error(), "AADSTS7000215", "acquire %d: the caller is not told of its own credential's failure", i+1)
	}
	assert.EqualValues(t, 3, xMints.Load())
	assert.LessOrEqual(t, gMints.Load(), int32(2), "a credential whose token the pool refused is asked again at every failure of the pool's own")
}

// TestAFallBackTokenIsJudgedFromItsOwnMintsStart: the pool's own
// credential's mint is slow (here three minutes of clock) and fails; the
// credential that minted last answers with a token already within
// TokenThreshold when its own mint began. The state machine sees one mint,
// begun before the first; it must not take that token for one that crossed
// the threshold during its mint (retryCrossedMint) and ask again with the
// pool's own credential, which has just failed.
func TestAFallBackTokenIsJudgedFromItsOwnMintsStart(t *testing.T) {
	clock := &skewClock{}
	m, _ := newManager(t, Config{MaxSize: 4, DialBackoff: -1, Clock: clock})
	var gMints, xMints atomic.Int32
	g := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		if gMints.Add(1) == 1 {
			return tokens.Token{Value: "g-token", ExpiresOn: clock.Now().Add(time.Hour)}, nil
		}
		return tokens.Token{Value: "g-token-2", ExpiresOn: clock.Now().Add(4 * time.Minute)}, nil
	}))
	x := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		xMints.Add(1)
		clock.Advance(3 * time.Minute) // a slow token endpoint
		return tokens.Token{}, errors.New("AADSTS7000215: invalid client secret")
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	held := acquire(t, m, g)
	defer held.Release(nil)
	_, err := m.Acquire(ctx, x)
	require.Error(t, err)
	assert.EqualValues(t, 1, xMints.Load(), "the failing credential asked again for one acquire: the fall-back's token taken for one that crossed the threshold during its mint")
	assert.EqualValues(t, 2, gMints.Load())
}

// TestAfterEvictTheRefillsDoNotMakeTheEvictedCredentialOneToGoBackTo: the
// documented way to drop a compromised credential, Evict and then acquire
// with the replacement, on a pool with MinSize. The refill that follows the
// Evict at once mints with the pool's own credential, the compromised one;
// that must not make it the one to go back to. The replacement, not yet
// propagated, fails its first mint, and its caller fails: no connection is
// dialed for it with the evicted credential's token.
func TestAfterEvictTheRefillsDoNotMakeTheEvictedCredentialOneToGoBackTo(t *testing.T) {
	m, db := newManager(t, Config{MinSize: 1, MaxSize: 4, DialBackoff: -1})
	var aMints, bMints atomic.Int32
	compromised := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&aMints, "compromised-token", -1, nil))
	replacement := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&bMints, "", 0, errors.New("AADSTS7000215: invalid client secret (not yet propagated)")))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	acquire(t, m, compromised).Release(nil)
	require.NoError(t, m.Evict(ctx, compromised))
	eventually(t, func() bool { return m.Stats().Total.Idle == 1 }, "MinSize refilled")
	afterFill := aMints.Load()
	// A hit on the refilled connection (the refill itself is the pool's
	// own, as without a fall-back), held so that the next acquire dials.
	hit, err := m.Acquire(ctx, replacement)
	require.NoError(t, err)
	defer hit.Release(nil)
	before := len(db.DialAttempts())

	l, err := m.Acquire(ctx, replacement)
	if err == nil {
		l.Release(nil)
	}
	bad := (tokens.Token{Value: "compromised-token"}).Fingerprint()
	for _, a := range db.DialAttempts()[before:] {
		assert.NotEqual(t, bad, a.TokenFingerprint, "a connection dialed after Evict, for the replacement's caller, with the evicted credential's token")
	}
	assert.Equal(t, afterFill, aMints.Load(), "the evicted credential was asked for a token for an acquire that did not bring it")
	assert.Error(t, err, "the replacement's caller was served on a new connection of the evicted credential")
}

// TestAFailedFallBackCountsBothFailuresInTheStreak: the pool's own
// credential and the fall-back both fail, so the token endpoint was asked
// twice: the blocking period that begins after two failed mints in a row
// begins now, and the next acquire gets no mint.
func TestAFailedFallBackCountsBothFailuresInTheStreak(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 4, DialBackoff: time.Hour})
	var gMints, xMints atomic.Int32
	g := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&gMints, "g-token", 1, errors.New("503 Service Unavailable")))
	x := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&xMints, "", 0, errors.New("503 Service Unavailable")))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	acquire(t, m, g).Release(nil)
	hit := acquire(t, m, x) // adopted on a hit
	defer hit.Release(nil)

	_, err := m.Acquire(ctx, x)
	require.Error(t, err)
	require.EqualValues(t, 2, gMints.Load(), "the fall-back was tried")
	short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancelShort()
	_, err = m.Acquire(short, x)
	require.Error(t, err)
	assert.EqualValues(t, 1, xMints.Load(), "the token endpoint was asked again inside the blocking period")
	assert.EqualValues(t, 1, m.Stats().Total.BlockedPeriods)
}
