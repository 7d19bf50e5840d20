package actors

import (
	"errors"
	"testing"
	"time"

	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMintFailingWithAnOlderCredentialIsRetriedWithTheNewer: a mint runs
// with credential 1; an acquire brings credential 2; the mint fails (the
// old assertion expired); the waiters are not failed: the pool mints again,
// with credential 2, and serves them.
func TestMintFailingWithAnOlderCredentialIsRetriedWithTheNewer(t *testing.T) {
	h := newHarness(t, tokenCfg())
	a := h.acquire()
	require.Equal(t, 1, h.mints)
	h.step(NewCredential{})
	b := h.acquire()
	h.finishMint(tokens.Token{}, errors.New("AADSTS500133: assertion expired"))
	for _, id := range []uint64{a, b} {
		_, answered := h.answer(id)
		assert.False(t, answered, "acquire %d is not failed for the old credential", id)
	}
	require.Equal(t, 1, h.mints, "retried with the newer credential")
	h.finishMint(h.tok("T2", time.Hour), nil)
	h.finishDials()
	h.mustGrant(a)
	h.mustGrant(b)
	st := h.p.Stats()
	assert.EqualValues(t, 1, st.CredentialRetries)
	assert.EqualValues(t, 1, st.CredentialChanges)
	assert.Zero(t, st.BlockedPeriods)
}

// TestMintFailingWithTheNewestCredentialFailsTheCaller: no newer credential
// known, so the failure is the caller's.
func TestMintFailingWithTheNewestCredentialFailsTheCaller(t *testing.T) {
	h := newHarness(t, tokenCfg())
	h.step(NewCredential{})
	a := h.acquire()
	cause := errors.New("invalid_client")
	h.finishMint(tokens.Token{}, cause)
	e, ok := h.answer(a)
	require.True(t, ok)
	assert.ErrorIs(t, e.Err, cause)
}

// TestNewCredentialEndsABlockingPeriodCausedByMints: the old secret was
// revoked and the pool blocked; a new credential ends the period at once.
func TestNewCredentialEndsABlockingPeriodCausedByMints(t *testing.T) {
	cfg := tokenCfg()
	cfg.DialBackoff = time.Minute
	h := newHarness(t, cfg)
	for range 2 {
		a := h.acquire()
		h.finishMint(tokens.Token{}, errors.New("invalid_client"))
		_, ok := h.answer(a)
		require.True(t, ok)
	}
	require.True(t, h.p.blocked(h.now))
	h.step(NewCredential{})
	assert.False(t, h.p.blocked(h.now))
	a := h.acquire()
	require.Equal(t, 1, h.mints)
	h.finishMint(h.tok("T", time.Hour), nil)
	h.finishDials()
	h.mustGrant(a)
}

// TestMintRefusedWithAnOlderCredentialIsRetriedWithTheNewer: like a failed
// mint, a token refused for its expiry (the old credential's token is within
// the threshold: a vouched user token near its end) is no reason to fail the
// waiters while a newer credential is known: the pool mints again with it.
func TestMintRefusedWithAnOlderCredentialIsRetriedWithTheNewer(t *testing.T) {
	h := newHarness(t, tokenCfg())
	a := h.acquire()
	require.Equal(t, 1, h.mints)
	h.step(NewCredential{})
	b := h.acquire()
	h.finishMint(h.tok("T1-near-expiry", 3*time.Minute), nil)
	for _, id := range []uint64{a, b} {
		e, answered := h.answer(id)
		assert.False(t, answered, "acquire %d is not failed for the old credential's token: %v", id, e.Err)
	}
	require.Equal(t, 1, h.mints, "retried with the newer credential")
	h.finishMint(h.tok("T2", time.Hour), nil)
	h.finishDials()
	h.mustGrant(a)
	h.mustGrant(b)
	assert.EqualValues(t, 1, h.p.Stats().CredentialRetries)
}

// TestMintRetriedWithANewerCredentialCarriesAWaiterOnce: every acquire brings
// a new credential (an identity built per request), so every failed mint
// finds a newer credential. A waiter is carried through one retry, not more:
// the first failure is retried for a and b; the second fails them (it is the
// second failed mint on their behalf) while c, which arrived during the
// first retry, is carried once and served when the next mint succeeds.
// Without the bound a and b would wait for as long as acquires kept coming.
func TestMintRetriedWithANewerCredentialCarriesAWaiterOnce(t *testing.T) {
	h := newHarness(t, tokenCfg())
	h.step(NewCredential{})
	a := h.acquire()
	h.step(NewCredential{})
	b := h.acquire()
	h.finishMint(tokens.Token{}, errors.New("AADSTS50076: MFA required (credential 1)"))
	for _, id := range []uint64{a, b} {
		_, answered := h.answer(id)
		require.False(t, answered, "acquire %d is carried to the retry", id)
	}
	require.Equal(t, 1, h.mints, "retried with the newer credential")

	h.step(NewCredential{})
	c := h.acquire()
	mfa := errors.New("AADSTS50076: MFA required (credential 2)")
	h.finishMint(tokens.Token{}, mfa)
	for _, id := range []uint64{a, b} {
		e, answered := h.answer(id)
		require.True(t, answered, "acquire %d fails after two failed mints", id)
		assert.Equal(t, EffFail, e.Kind)
		assert.ErrorIs(t, e.Err, mfa)
		var de *DialError
		require.ErrorAs(t, e.Err, &de)
		assert.True(t, de.Mint)
	}
	_, answered := h.answer(c)
	require.False(t, answered, "acquire c, queued during the retry, is carried once")
	require.Equal(t, 1, h.mints, "retried again, for c")

	h.finishMint(h.tok("T3", time.Hour), nil)
	h.finishDials()
	h.mustGrant(c)
	st := h.p.Stats()
	assert.EqualValues(t, 2, st.CredentialRetries)
	assert.EqualValues(t, 3, st.CredentialChanges)
	h.release(c, false)
	assert.Len(t, h.p.idle, 3, "the dials left by a and b opened connections that wait idle, as a cancel leaves them")
}

// TestTokenCheckRetriedWithANewerCredentialCarriesItsWaiterOnce: the same
// bound for a waiter whose connection's token is being re-checked: carried
// through one retry, then settled as a failed mint settles it (here, the
// connection's token is still accepted: the waiter gets it).
func TestTokenCheckRetriedWithANewerCredentialCarriesItsWaiterOnce(t *testing.T) {
	h := newHarness(t, tokenCfg())
	a := h.acquire()
	h.finishMint(h.tok("T", 10*time.Minute), nil)
	h.finishDials()
	ca := h.mustGrant(a)
	h.release(a, false)
	h.advance(6 * time.Minute) // inside the threshold: a grant re-checks
	b := h.acquire()
	require.Equal(t, 1, h.mints)
	h.step(NewCredential{})
	h.finishMint(tokens.Token{}, errors.New("endpoint refuses credential 0"))
	_, answered := h.answer(b)
	require.False(t, answered, "carried to the retry")
	require.Equal(t, 1, h.mints)
	h.step(NewCredential{})
	h.finishMint(tokens.Token{}, errors.New("endpoint refuses credential 1"))
	assert.Equal(t, ca, h.mustGrant(b), "second failed mint: settled, with the still-accepted token")
	assert.Equal(t, 1, h.mints, "the retry still runs for the token")
}
