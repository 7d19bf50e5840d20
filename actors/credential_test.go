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
