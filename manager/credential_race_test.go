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

// mintCounting is a token source that counts its calls and answers token,
// or fails with err once the count passes okFor (okFor < 0: never fails).
func mintCounting(n *atomic.Int32, token string, okFor int32, err error) tokens.Source {
	return tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		if k := n.Add(1); okFor >= 0 && k > okFor {
			return tokens.Token{}, err
		}
		return tokens.Token{Value: token, ExpiresOn: time.Now().Add(time.Hour)}, nil
	})
}

// TestAnOlderCredentialArrivingLastFallsBackToTheOneThatMinted: a client
// secret was rotated and the old one revoked. A request still in flight
// with the identity built before the rotation reaches the pool after one
// with the new identity, and the pool (which follows the latest acquire's
// credential) must dial for it. The revoked secret's mint fails; the pool
// goes back to the credential that last minted, mints again and serves
// the request, instead of failing it.
func TestAnOlderCredentialArrivingLastFallsBackToTheOneThatMinted(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 4})
	var oldMints, newMints atomic.Int32
	before := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&oldMints, "", 0, errors.New("AADSTS7000215: invalid client secret")))
	rotated := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&newMints, "new-secret-token", -1, nil))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first, err := m.Acquire(ctx, rotated)
	require.NoError(t, err)
	defer first.Release(nil)
	late, err := m.Acquire(ctx, before) // a dial: first holds the only connection
	require.NoError(t, err, "a request with the identity built before the rotation failed on the revoked secret")
	late.Release(nil)

	assert.EqualValues(t, 1, oldMints.Load(), "the revoked secret is asked once, as the latest acquire's")
	assert.EqualValues(t, 2, newMints.Load(), "the credential that minted is asked again")
	require.Len(t, db.DialAttempts(), 2)
	for _, a := range db.DialAttempts() {
		assert.Equal(t, (tokens.Token{Value: "new-secret-token"}).Fingerprint(), a.TokenFingerprint)
	}
	st := m.Stats().Total
	assert.EqualValues(t, 1, st.CredentialRetries)
	assert.EqualValues(t, 2, st.CredentialChanges, "to the older credential, and back")
}

// TestANewerCredentialThatCannotMintFallsBack: the case against ordering
// credentials by age. A credential built later that cannot mint (its
// assertion expired before the other's: two requests of one user built
// their identities in the opposite order) is adopted on a pool hit, where
// no mint judges it; the next dial's mint fails, and the pool goes back to
// the credential that minted, serving the caller.
func TestANewerCredentialThatCannotMintFallsBack(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 4})
	var goodMints, expiredMints atomic.Int32
	good := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&goodMints, "good-token", -1, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := m.Acquire(ctx, good)
	require.NoError(t, err)
	l.Release(nil)

	expired := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&expiredMints, "", 0, errors.New("AADSTS500133: assertion expired")))
	hit, err := m.Acquire(ctx, expired) // the idle connection: no mint
	require.NoError(t, err)
	defer hit.Release(nil)
	assert.Zero(t, expiredMints.Load())
	dialed, err := m.Acquire(ctx, expired)
	require.NoError(t, err, "the expired assertion failed the caller while another credential of the pool mints")
	dialed.Release(nil)

	assert.EqualValues(t, 1, expiredMints.Load())
	assert.EqualValues(t, 2, goodMints.Load())
	for _, a := range db.DialAttempts() {
		assert.Equal(t, (tokens.Token{Value: "good-token"}).Fingerprint(), a.TokenFingerprint)
	}
}

// TestAFallBackThatFailsTooFailsTheCallerOnce: when the credential that
// last minted fails as well, the caller gets the error: one retry per
// failed mint, no loop between two failing credentials.
func TestAFallBackThatFailsTooFailsTheCallerOnce(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 4, DialBackoff: time.Hour})
	var aMints, bMints atomic.Int32
	a := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&aMints, "a-token", 1, errors.New("AADSTS7000222: client secret expired")))
	b := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&bMints, "", 0, errors.New("AADSTS7000215: invalid client secret")))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first, err := m.Acquire(ctx, a)
	require.NoError(t, err)
	defer first.Release(nil)

	_, err = m.Acquire(ctx, b)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "AADSTS7000222", "the error is the fall-back's own")
	assert.EqualValues(t, 1, bMints.Load())
	assert.EqualValues(t, 2, aMints.Load())
	assert.EqualValues(t, 1, m.Stats().Total.CredentialRetries)
}

// TestATokenRefusedForItsExpiryIsNoCredentialToFallBackTo: a credential
// whose token the pool refused (it expires within TokenThreshold) minted
// nothing usable, so a later failing credential falls back past it, to
// the one that minted a token the pool took.
func TestATokenRefusedForItsExpiryIsNoCredentialToFallBackTo(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 4})
	var gMints, xMints, yMints atomic.Int32
	g := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&gMints, "g-token", -1, nil))
	x := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		xMints.Add(1)
		return tokens.Token{Value: "x-token", ExpiresOn: time.Now().Add(time.Minute)}, nil
	}))
	y := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&yMints, "", 0, errors.New("AADSTS7000215: invalid client secret")))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first, err := m.Acquire(ctx, g)
	require.NoError(t, err)
	defer first.Release(nil)
	_, err = m.Acquire(ctx, x)
	require.Error(t, err, "a token within TokenThreshold of its expiry is refused")

	l, err := m.Acquire(ctx, y)
	require.NoError(t, err)
	l.Release(nil)
	assert.EqualValues(t, 1, xMints.Load(), "the refused token's credential is not the one to go back to")
	assert.EqualValues(t, 2, gMints.Load())
}
