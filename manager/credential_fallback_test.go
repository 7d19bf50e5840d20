package manager

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAfterEvictTheReplacementNeverFallsBackToTheEvictedCredential: the
// documented way to be rid of a compromised credential (OPERATIONS.md,
// "Evict one identity": Evict, and acquire with a new identity over the
// replacement). The replacement's first mint fails (a new secret not yet
// propagated). The compromised credential minted last, but the pool must
// not go back to it: its cache would hand back the very token Evict was
// meant to drop.
func TestAfterEvictTheReplacementNeverFallsBackToTheEvictedCredential(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 4})
	var aMints, bMints atomic.Int32
	compromised := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&aMints, "compromised-token", -1, nil))
	replacement := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&bMints, "", 0, errors.New("AADSTS7000215: invalid client secret (not yet propagated)")))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	acquire(t, m, compromised).Release(nil)
	require.NoError(t, m.Evict(ctx, compromised))
	before := len(db.DialAttempts())

	l, err := m.Acquire(ctx, replacement)
	if err == nil {
		l.Release(nil)
	}
	bad := (tokens.Token{Value: "compromised-token"}).Fingerprint()
	for _, a := range db.DialAttempts()[before:] {
		assert.NotEqual(t, bad, a.TokenFingerprint, "a connection opened after Evict with the evicted credential's token")
	}
	assert.EqualValues(t, 1, aMints.Load(), "the evicted credential was asked for a token after Evict, for an acquire that did not bring it")
	assert.Error(t, err, "the replacement's caller was served on the evicted credential")
}

// TestAFailedFallBackReportsThePoolsOwnCredentialsError: the secret was
// rotated, the new identity is adopted on a pool hit (no mint), and the
// old secret revoked. The new credential's next mint fails with a
// transient error; the pool tries the credential that minted last once,
// which fails too, and the caller, who brought the new credential, is told
// of its own credential's failure, not of "invalid client secret".
func TestAFailedFallBackReportsThePoolsOwnCredentialsError(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 4, DialBackoff: time.Hour})
	var oldMints, newMints atomic.Int32
	old := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&oldMints, "old-token", 1, errors.New("AADSTS7000215: invalid client secret")))
	rotated := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&newMints, "", 0, errors.New("503 Service Unavailable: token endpoint busy")))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	acquire(t, m, old).Release(nil)
	hit := acquire(t, m, rotated) // the idle connection: no mint
	defer hit.Release(nil)
	_, err := m.Acquire(ctx, rotated) // a dial: mint with rotated, which fails transiently
	require.Error(t, err)
	assert.Contains(t, err.Error(), "503", "the caller's own credential's error")
	assert.NotContains(t, err.Error(), "AADSTS7000215", "the caller is told of a revoked secret it did not bring")
	assert.EqualValues(t, 2, oldMints.Load(), "the credential that minted last is asked once")
}

// TestAFallBackLeavesThePoolOnItsOwnCredential: a fall-back is one mint,
// not a change of the pool's credential. With MinSize, the pool's own
// fills go on minting with the pool's (rotated) credential once its
// transient failure is over, never with the revoked secret, which no
// request brings.
func TestAFallBackLeavesThePoolOnItsOwnCredential(t *testing.T) {
	m, _ := newManager(t, Config{MinSize: 2, MaxSize: 4, DialBackoff: 20 * time.Millisecond, DialBackoffMax: 20 * time.Millisecond})
	var oldMints, newMints atomic.Int32
	old := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&oldMints, "old-token", 1, errors.New("AADSTS7000215: invalid client secret")))
	var transient atomic.Bool
	rotated := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		newMints.Add(1)
		if transient.Load() {
			return tokens.Token{}, errors.New("503 Service Unavailable")
		}
		return tokens.Token{Value: "new-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
	}))

	// The pool fills MinSize with the old secret (one mint).
	acquire(t, m, old).Release(nil)
	eventually(t, func() bool { return m.Stats().Total.Idle == 2 }, "MinSize filled")
	// Rotation: the new identity is adopted on a pool hit; the old secret is revoked.
	transient.Store(true)
	acquire(t, m, rotated).Release(nil)
	// Evict drops the token: the refill mints, with the pool's (rotated) credential.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, m.Evict(ctx, rotated))
	eventually(t, func() bool { return newMints.Load() >= 1 }, "the fill minted")
	transient.Store(false) // the token endpoint is back

	eventually(t, func() bool { return m.Stats().Total.Idle == 2 }, "MinSize never refilled although the rotated credential mints again")
	assert.LessOrEqual(t, oldMints.Load(), int32(2), "the revoked secret is asked by the pool's own fills, no request bringing it")
}

// TestACredentialThatJustFailedIsNoFallBack: a mint with the old
// credential is in flight when an acquire brings the new one; the old one
// fails (revoked) and is retried with the new one, which fails too (not yet
// propagated). The old credential minted last, but it has just failed: the
// pool does not ask the revoked secret again, and the caller who brought
// the new credential sees the new one's error.
func TestACredentialThatJustFailedIsNoFallBack(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 4, DialBackoff: time.Hour})
	var oldMints, newMints atomic.Int32
	called, release := make(chan struct{}), make(chan struct{})
	old := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		switch oldMints.Add(1) {
		case 1:
			return tokens.Token{Value: "old-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
		case 2:
			close(called)
			<-release
		}
		return tokens.Token{}, errors.New("AADSTS7000215: invalid client secret")
	}))
	rotated := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&newMints, "", 0, errors.New("AADSTS7000215: invalid client secret (new one not yet propagated)")))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	first := acquire(t, m, old)
	defer first.Release(nil)
	r1 := make(chan error, 1)
	go func() {
		l, err := m.Acquire(ctx, old)
		if err == nil {
			l.Release(nil)
		}
		r1 <- err
	}()
	<-called
	r2 := make(chan error, 1)
	go func() {
		l, err := m.Acquire(ctx, rotated)
		if err == nil {
			l.Release(nil)
		}
		r2 <- err
	}()
	eventually(t, func() bool { return m.Stats().Total.CredentialChanges == 1 }, "the second acquire reached the pool")
	close(release)
	<-r1
	err := <-r2
	require.Error(t, err)
	assert.EqualValues(t, 1, newMints.Load())
	assert.EqualValues(t, 2, oldMints.Load(), "the revoked secret asked again right after it failed")
	assert.Contains(t, err.Error(), "not yet propagated", "the error of the last credential tried for the caller's")
}

type retainedPayload struct{ _ [1 << 10]byte }

// TestEvictLetsGoOfTheReplacedIdentity: an identity replaced on a pool hit
// (no mint follows) is the one the pool would go back to, and stays
// reachable from it until then; an Evict lets go of it (for an
// on-behalf-of user, the old bearer assertion and its credential's token
// cache).
func TestEvictLetsGoOfTheReplacedIdentity(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 4})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var freed atomic.Bool
	func() {
		p := &retainedPayload{}
		runtime.SetFinalizer(p, func(*retainedPayload) { freed.Store(true) })
		old := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
			_ = p
			return tokens.Token{Value: "old-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
		}))
		acquire(t, m, old).Release(nil)
	}()
	var n atomic.Int32
	renewed := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&n, "new-token", -1, nil))
	acquire(t, m, renewed).Release(nil) // a hit
	require.NoError(t, m.Evict(ctx, renewed))
	eventually(t, func() bool { runtime.GC(); return freed.Load() }, "the replaced identity is still reachable from the evicted pool")
}

// TestATokenTakenFromAReplacedCredentialCountsForThatCredential: the
// rotation case with the late pre-rotation request arriving while the
// rotated credential's mint is in flight. The pool takes the rotated
// credential's token (it serves both dials) although an acquire replaced
// that credential meanwhile: the rotated credential is the one that minted
// last. The next mint (the token nears its expiry) uses the revoked
// secret, the pool's now, fails, and goes back to the rotated one.
func TestATokenTakenFromAReplacedCredentialCountsForThatCredential(t *testing.T) {
	clock := &skewClock{}
	m, db := newManager(t, Config{MaxSize: 4, DialBackoff: time.Hour, Clock: clock})
	var oldMints, newMints atomic.Int32
	old := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		if oldMints.Add(1) > 1 {
			return tokens.Token{}, errors.New("AADSTS7000215: invalid client secret")
		}
		return tokens.Token{Value: "old-token", ExpiresOn: clock.Now().Add(time.Hour)}, nil
	}))
	called, release := make(chan struct{}), make(chan struct{})
	rotated := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		if newMints.Add(1) == 1 {
			close(called)
			<-release
		}
		return tokens.Token{Value: fmt.Sprint("new-token-", newMints.Load()), ExpiresOn: clock.Now().Add(time.Hour)}, nil
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	acquire(t, m, old).Release(nil)
	hit := acquire(t, m, rotated) // adopted on a hit: good is the old one
	r := make(chan *Lease, 2)
	go func() { l, err := m.Acquire(ctx, rotated); assert.NoError(t, err); r <- l }() // a dial: mint with rotated
	<-called
	go func() { l, err := m.Acquire(ctx, old); assert.NoError(t, err); r <- l }() // the late pre-rotation request
	eventually(t, func() bool { return m.Stats().Total.CredentialChanges == 2 }, "the late acquire reached the pool")
	close(release)
	l1, l2 := <-r, <-r
	require.NotNil(t, l1)
	require.NotNil(t, l2)
	for _, a := range db.DialAttempts()[1:] {
		require.Equal(t, (tokens.Token{Value: "new-token-1"}).Fingerprint(), a.TokenFingerprint, "the pool took the rotated credential's token")
	}

	// 50 minutes on, the token is inside the threshold: the next dial mints.
	clock.Advance(56 * time.Minute)
	l, err := m.Acquire(ctx, old)
	if err == nil {
		l.Release(nil)
	}
	hit.Release(nil)
	l1.Release(nil)
	l2.Release(nil)
	t.Logf("old mints %d, rotated mints %d", oldMints.Load(), newMints.Load())
	require.NoError(t, err, "the next mint failed on the revoked secret although the rotated credential minted last")
}

// TestAFallBackKeepsTheBlockingPeriod: every request brings the same
// identity (the rotated one); the token endpoint fails for it, and the
// pre-rotation secret is revoked. The first failure is tried once with the
// credential that minted last, which fails too; the blocking period that
// failed mints begin then holds: later acquires fail fast without asking
// the token endpoint, with either credential.
func TestAFallBackKeepsTheBlockingPeriod(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 4, DialBackoff: time.Hour})
	var oldMints, newMints atomic.Int32
	old := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&oldMints, "old-token", 1, errors.New("AADSTS7000215: invalid client secret")))
	rotated := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&newMints, "", 0, errors.New("503 Service Unavailable")))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	acquire(t, m, old).Release(nil)
	hit := acquire(t, m, rotated) // adopted on a hit
	defer hit.Release(nil)
	const n = 10
	for range n {
		actx, acancel := context.WithTimeout(ctx, 300*time.Millisecond)
		_, err := m.Acquire(actx, rotated)
		acancel()
		require.Error(t, err)
	}
	st := m.Stats().Total
	t.Logf("after %d acquires: rotated mints %d, revoked-secret mints %d, BlockedFails %d, MintFailures %d", n, newMints.Load(), oldMints.Load()-1, st.BlockedFails, st.MintFailures)
	assert.LessOrEqual(t, newMints.Load(), int32(2), "the token endpoint is asked through the blocking period (as without a fall-back)")
	assert.EqualValues(t, 2, oldMints.Load(), "the revoked secret is asked once, for the first failure")
}

// TestAStaleMintsFailureIsNoCauseToFallBack: a mint with the pool's
// credential started before an Evict fails after it. Evict drops such a
// mint's result (staleMint) and mints again with the pool's credential,
// which works now: the waiter's connection logs in with its token, and the
// credential that minted before the Evict is not asked again.
func TestAStaleMintsFailureIsNoCauseToFallBack(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 4})
	var aMints, bMints atomic.Int32
	a := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&aMints, "a-token", -1, nil))
	called, release := make(chan struct{}), make(chan struct{})
	b := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		if bMints.Add(1) == 1 {
			close(called)
			<-release
			return tokens.Token{}, errors.New("503 Service Unavailable")
		}
		return tokens.Token{Value: "b-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	acquire(t, m, a).Release(nil)
	hit := acquire(t, m, b) // adopted on a hit
	r := make(chan *Lease, 1)
	go func() { l, err := m.Acquire(ctx, b); assert.NoError(t, err); r <- l }()
	<-called
	evicted := make(chan error, 1)
	go func() { evicted <- m.Evict(ctx, b) }()
	eventually(t, func() bool { return m.Stats().Total.Evictions == 1 }, "the Evict reached the pool")
	close(release)
	l := <-r
	require.NotNil(t, l)
	l.Release(nil)
	hit.Release(nil)
	require.NoError(t, <-evicted)

	last := db.DialAttempts()[len(db.DialAttempts())-1]
	st := m.Stats().Total
	t.Logf("a mints %d, b mints %d, CredentialChanges %d, CredentialRetries %d", aMints.Load(), bMints.Load(), st.CredentialChanges, st.CredentialRetries)
	assert.Equal(t, (tokens.Token{Value: "b-token"}).Fingerprint(), last.TokenFingerprint, "the post-Evict connection logged in with the older credential's token")
	assert.EqualValues(t, 2, bMints.Load(), "the pool's own credential was not asked after the Evict")
	assert.EqualValues(t, 1, aMints.Load())
	assert.EqualValues(t, 1, st.CredentialChanges)
	assert.Zero(t, st.CredentialRetries)
}

// TestAMintFailingAsThePoolClosesIsNoCauseToFallBack: Close cancels the
// pool's mint in flight, which fails; the pool is closing, so the
// credential that minted last is not asked for a token nobody will use.
func TestAMintFailingAsThePoolClosesIsNoCauseToFallBack(t *testing.T) {
	m, _ := newManagerNoCleanup(t, Config{MaxSize: 4})
	var aMints, bMints atomic.Int32
	a := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&aMints, "a-token", -1, nil))
	called := make(chan struct{})
	b := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", tokens.SourceFunc(func(ctx context.Context) (tokens.Token, error) {
		if bMints.Add(1) == 1 {
			close(called)
		}
		<-ctx.Done()
		return tokens.Token{}, ctx.Err()
	}))
	acquire(t, m, a).Release(nil)
	hit := acquire(t, m, b) // adopted on a hit
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	failed := make(chan error, 1)
	go func() {
		l, err := m.Acquire(ctx, b) // a dial: mint with b
		if err == nil {
			l.Release(nil)
		}
		failed <- err
	}()
	<-called
	closed := make(chan error, 1)
	go func() { closed <- m.Close(ctx) }()
	require.ErrorIs(t, <-failed, ErrClosed, "Close fails the queued acquire")
	hit.Release(nil)
	require.NoError(t, <-closed)
	assert.EqualValues(t, 1, aMints.Load(), "the credential that minted last was asked as the pool closed")
}
