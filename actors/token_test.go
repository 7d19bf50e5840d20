package actors

import (
	"errors"
	"testing"
	"time"

	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func tokenCfg() PoolConfig {
	return PoolConfig{MaxSize: 50, UsesToken: true, TokenThreshold: 5 * time.Minute}
}

func (h *harness) tok(v string, life time.Duration) tokens.Token {
	return tokens.Token{Value: v, ExpiresOn: h.now.Add(life)}
}

func TestTokenIsMintedOnlyToOpenAndOnceForConcurrentMisses(t *testing.T) {
	h := newHarness(t, tokenCfg())
	ids := make([]uint64, 50)
	for i := range ids {
		ids[i] = h.acquire()
	}
	assert.Equal(t, 1, h.mints, "one mint in flight for 50 misses")
	assert.Empty(t, h.dials, "dials wait for the token")
	tok := h.tok("T1", time.Hour)
	h.finishMint(tok, nil)
	require.Len(t, h.dials, 50, "one result serves every waiting dial")
	for _, d := range h.dials {
		assert.Equal(t, tok, d, "dial logs in with exactly the minted token")
	}
	h.finishDials()
	for _, id := range ids {
		h.release(id, false)
	}
	for range 1000 {
		id := h.acquire()
		h.mustGrant(id)
		h.release(id, false)
	}
	assert.EqualValues(t, 1, h.p.Stats().TokenMints, "pool hits mint nothing")
	assert.Zero(t, h.mints)
}

func TestFailedMintFailsItsWaitersWithTheCauseAndFreesReservations(t *testing.T) {
	h := newHarness(t, tokenCfg())
	a, b := h.acquire(), h.acquire()
	cause := errors.New("credential unavailable")
	h.finishMint(tokens.Token{}, cause)
	for _, id := range []uint64{a, b} {
		e, ok := h.answer(id)
		require.True(t, ok)
		assert.ErrorIs(t, e.Err, cause)
		var de *DialError
		require.ErrorAs(t, e.Err, &de)
		assert.True(t, de.Mint)
	}
	assert.Zero(t, h.p.size(), "reservations released")
	c := h.acquire()
	assert.Equal(t, 1, h.mints, "next miss mints again")
	h.finishMint(h.tok("T", time.Hour), nil)
	h.finishDials()
	h.mustGrant(c)
}

func TestNearExpirySameTokenIsReusedWithItsNewExpiry(t *testing.T) {
	h := newHarness(t, tokenCfg())
	a := h.acquire()
	h.finishMint(h.tok("T1", 10*time.Minute), nil)
	h.finishDials()
	ca := h.mustGrant(a)
	h.release(a, false)
	h.advance(6 * time.Minute) // 4 minutes left: inside the threshold
	b := h.acquire()
	require.Equal(t, 1, h.mints, "near expiry triggers a mint")
	_, ok := h.answer(b)
	require.False(t, ok)
	renewed := h.tok("T1", time.Hour) // same token, later expiry
	h.finishMint(renewed, nil)
	assert.Equal(t, ca, h.mustGrant(b), "same token: candidate reused")
	assert.Equal(t, renewed.ExpiresOn, h.p.connOf(ca).token.ExpiresOn, "new expiry recorded")
	assert.Empty(t, h.dials)
	assert.Zero(t, h.p.Stats().Rotations)
}

func TestRotatedTokenDrainsStaleSiblingsAndReopensWithOneMint(t *testing.T) {
	h := newHarness(t, tokenCfg())
	ids := []uint64{h.acquire(), h.acquire(), h.acquire()}
	h.finishMint(h.tok("OLD", 10*time.Minute), nil)
	h.finishDials()
	for _, id := range ids {
		h.release(id, false)
	}
	h.advance(6 * time.Minute)
	b := h.acquire()
	fresh := h.tok("NEW", time.Hour)
	h.finishMint(fresh, nil)
	r := h.closeReasons()
	assert.Equal(t, 1, r[ReasonTokenRotated], "candidate discarded")
	assert.Equal(t, 2, r[ReasonStaleToken], "idle siblings with the stale token drained in the same step")
	require.Len(t, h.dials, 1)
	assert.Equal(t, fresh, h.dials[0], "dials with the fresh token")
	assert.Zero(t, h.mints, "no second mint")
	h.finishDial(nil)
	h.mustGrant(b)
	s := h.p.Stats()
	assert.EqualValues(t, 2, s.TokenMints)
	assert.EqualValues(t, 1, s.Rotations)
	assert.EqualValues(t, 2, s.StaleDrained)
}

func TestExpiredTokenConnectionIsNeverHandedOut(t *testing.T) {
	h := newHarness(t, tokenCfg())
	a, b := h.acquire(), h.acquire()
	h.finishMint(h.tok("T", 10*time.Minute), nil)
	h.finishDials()
	h.release(a, false)
	h.advance(11 * time.Minute)
	h.release(b, false) // released after its token expired
	r := h.closeReasons()
	assert.Equal(t, 1, r[ReasonTokenExpired], "released after expiry: closed")
	c := h.acquire() // the idle one expired too: popped and closed
	assert.Equal(t, 2, h.closeReasons()[ReasonTokenExpired])
	assert.Equal(t, 1, h.mints)
	h.finishMint(h.tok("T2", time.Hour), nil)
	h.finishDials()
	h.mustGrant(c)
}

func TestIdleConnectionInsideTokenThresholdIsClosedBySweep(t *testing.T) {
	h := newHarness(t, tokenCfg())
	a := h.acquire()
	h.finishMint(h.tok("T", 20*time.Minute), nil)
	h.finishDials()
	h.release(a, false)
	require.NotEmpty(t, h.wakes)
	assert.Equal(t, h.now.Add(15*time.Minute), h.wakes[len(h.wakes)-1], "wake when the token enters the threshold")
	h.advance(15 * time.Minute)
	h.tick()
	assert.Equal(t, 1, h.closeReasons()[ReasonTokenExpiring])
	assert.EqualValues(t, 1, h.p.Stats().ExpiredClosed)
}

func TestMintFailureDuringTokenCheckKeepsAStillValidConnection(t *testing.T) {
	h := newHarness(t, tokenCfg())
	a := h.acquire()
	h.finishMint(h.tok("T", 10*time.Minute), nil)
	h.finishDials()
	ca := h.mustGrant(a)
	h.release(a, false)
	h.advance(6 * time.Minute)
	b := h.acquire()
	h.finishMint(tokens.Token{}, errors.New("endpoint down"))
	assert.Equal(t, ca, h.mustGrant(b), "token still accepted for 4 more minutes")
}

func TestGlobalCapPermitsAndStealing(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 4, NeedsPermit: true})
	a := h.acquire()
	require.Equal(t, 1, h.permitAsks, "a dial waits for a permit")
	assert.Empty(t, h.dials)
	h.grantPermit()
	h.finishDials()
	h.mustGrant(a)
	b := h.acquire()
	h.cancel(b)
	h.grantPermit() // no longer wanted: handed straight back
	assert.Zero(t, h.permitsHeld-1)
	h.release(a, false)
	h.steal()
	assert.Equal(t, 1, h.closeReasons()[ReasonStolen], "idle connection given up at once")
	assert.Equal(t, 1, h.permitsHeld, "its permit comes back when the close finishes")
	h.finishCloses()
	assert.Zero(t, h.permitsHeld)
	c := h.acquire()
	h.grantPermit()
	h.finishDials()
	h.mustGrant(c)
	h.steal() // nothing idle: the next release pays
	h.release(c, false)
	assert.Equal(t, 1, h.closeReasons()[ReasonStolen])
	h.finishCloses()
	assert.Zero(t, h.permitsHeld)
}

func TestStaleCandidateIsRetiredWithoutMintingWhenANewerTokenIsKnown(t *testing.T) {
	h := newHarness(t, tokenCfg())
	a, b := h.acquire(), h.acquire()
	h.finishMint(h.tok("OLD", 10*time.Minute), nil)
	h.finishDials()
	h.release(a, false)
	h.advance(6 * time.Minute)
	c := h.acquire() // a's connection: near expiry, mint says rotated
	h.finishMint(h.tok("NEW", time.Hour), nil)
	h.finishDials()
	h.mustGrant(c)
	h.release(b, false) // b's connection still holds OLD
	h.release(c, false)
	d := h.acquire() // LIFO: c's NEW connection
	h.mustGrant(d)
	e := h.acquire() // b's OLD one: stale, and NEW is known: no mint
	assert.Zero(t, h.mints, "no mint to learn what the pool already knows")
	require.Len(t, h.dials, 1)
	assert.Equal(t, "NEW", h.dials[0].Value, "reopened with the known fresh token")
	h.finishDials()
	h.mustGrant(e)
	assert.EqualValues(t, 2, h.p.Stats().Rotations)
}

func TestSuccessfulMintEndsABlockingPeriodCausedByMints(t *testing.T) {
	cfg := tokenCfg()
	cfg.DialBackoff = time.Minute
	h := newHarness(t, cfg)
	for range 2 {
		a := h.acquire()
		h.finishMint(tokens.Token{}, errors.New("endpoint down"))
		e, _ := h.answer(a)
		require.Error(t, e.Err)
	}
	assert.True(t, h.p.blocked(h.now))
	h.advance(2 * time.Minute)
	b := h.acquire()
	h.finishMint(h.tok("T", time.Hour), nil)
	assert.False(t, h.p.blocked(h.now), "the endpoint works again")
	h.finishDials()
	h.mustGrant(b)
}

func TestRefreshAheadMintsInTheBackgroundSoCheckoutNeverWaitsOnAMint(t *testing.T) {
	cfg := tokenCfg()
	cfg.RefreshAhead = true
	h := newHarness(t, cfg)
	a, b := h.acquire(), h.acquire()
	h.finishMint(h.tok("T1", 10*time.Minute), nil)
	h.finishDials()
	h.release(a, false)
	assert.Equal(t, h.now.Add(5*time.Minute), h.wakes[len(h.wakes)-1], "wakes when the token enters the threshold")
	h.advance(5 * time.Minute)
	h.tick()
	require.Equal(t, 1, h.mints, "a background mint, with no caller waiting")
	h.finishMint(h.tok("T2", time.Hour), nil)
	assert.EqualValues(t, 1, h.p.Stats().Refreshes)

	h.release(b, false) // its T1 connection comes back near expiry
	c := h.acquire()
	assert.Zero(t, h.mints, "checkout does not mint")
	require.Len(t, h.dials, 1, "the stale connection is replaced at once")
	assert.Equal(t, "T2", h.dials[0].Value)
	h.finishDials()
	h.mustGrant(c)
	d := h.acquire() // a miss: dials with the fresh token, no mint
	assert.Zero(t, h.mints)
	h.finishDials()
	h.mustGrant(d)
}
