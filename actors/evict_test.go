package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEvictClosesIdleNowBusyOnReleaseAndReopensWithAFreshMint: two idle and
// one busy connection; Evict closes the idle ones at once, answers only when
// the busy one has come back and closed, and the next acquire dials with a
// token minted after the Evict.
func TestEvictClosesIdleNowBusyOnReleaseAndReopensWithAFreshMint(t *testing.T) {
	h := newHarness(t, tokenCfg())
	a, b, c := h.acquire(), h.acquire(), h.acquire()
	h.finishMint(h.tok("T1", time.Hour), nil)
	h.finishDials()
	h.release(a, false)
	h.release(b, false)
	h.finishCloses()

	h.evict("done")
	assert.Equal(t, map[CloseReason]int{ReasonEvicted: 2}, h.closeReasons(), "idle ones close at once")
	h.finishCloses()
	assert.Empty(t, h.evicted, "the busy one is still out")

	d := h.acquire()
	assert.Equal(t, 1, h.mints, "the next acquire mints: the old token is dropped")
	h.finishMint(h.tok("T2", time.Hour), nil)
	require.Len(t, h.dials, 1)
	assert.Equal(t, "T2", h.dials[0].Value)
	h.finishDials()
	h.mustGrant(d)

	h.release(c, false)
	assert.Equal(t, map[CloseReason]int{ReasonEvicted: 1}, h.closeReasons(), "the busy one closes when released")
	assert.Empty(t, h.evicted, "answered only once its close has finished")
	h.finishCloses()
	assert.Equal(t, []any{"done"}, h.evicted)

	h.release(d, false)
	e := h.acquire()
	h.mustGrant(e)
	assert.EqualValues(t, 1, h.p.Stats().Evictions)
	assert.EqualValues(t, 3, h.p.Stats().Closes["evicted"])
}

// TestEvictDropsADialAndAMintInFlight: a dial in flight when Evict comes
// lands stale and is closed, and its waiter is served by a new dial; a mint
// in flight is dropped and done again.
func TestEvictDropsADialAndAMintInFlight(t *testing.T) {
	h := newHarness(t, tokenCfg())
	a := h.acquire()
	h.finishMint(h.tok("T1", time.Hour), nil)
	require.Len(t, h.dials, 1)
	h.evict("e1")
	h.finishDial(nil)
	assert.Equal(t, map[CloseReason]int{ReasonEvicted: 1}, h.closeReasons(), "the stale dial's connection is closed")
	_, answered := h.answer(a)
	assert.False(t, answered, "its waiter keeps waiting for a fresh one")
	require.Equal(t, 1, h.mints, "and the pool mints again")
	h.finishCloses()
	assert.Equal(t, []any{"e1"}, h.evicted)

	// A mint in flight at Evict: its token is not used.
	h.evict("e2")
	assert.Equal(t, []any{"e1", "e2"}, h.evicted, "nothing open: answered at once")
	h.finishMint(h.tok("T1", time.Hour), nil)
	assert.Empty(t, h.dials, "the stale token is not dialed with")
	require.Equal(t, 1, h.mints)
	h.finishMint(h.tok("T2", time.Hour), nil)
	require.Len(t, h.dials, 1)
	assert.Equal(t, "T2", h.dials[0].Value)
	h.finishDials()
	h.mustGrant(a)
}

// TestEvictOfAnEmptyPoolAnswersAtOnce.
func TestEvictOfAnEmptyPoolAnswersAtOnce(t *testing.T) {
	h := newHarness(t, tokenCfg())
	h.evict(1)
	assert.Equal(t, []any{1}, h.evicted)
}

// TestEvictDuringAHealthCheckClosesTheConnectionWhenTheCheckEnds.
func TestEvictDuringAHealthCheckClosesTheConnectionWhenTheCheckEnds(t *testing.T) {
	cfg := tokenCfg()
	cfg.HealthCheckAfter = time.Second
	h := newHarness(t, cfg)
	a := h.acquire()
	h.finishMint(h.tok("T1", time.Hour), nil)
	h.finishDials()
	h.release(a, false)
	h.advance(2 * time.Second)
	b := h.acquire()
	require.Len(t, h.validates, 1)
	h.evict("e")
	h.finishValidate(true)
	assert.Equal(t, map[CloseReason]int{ReasonEvicted: 1}, h.closeReasons())
	h.finishCloses()
	assert.Equal(t, []any{"e"}, h.evicted)
	h.finishMint(h.tok("T2", time.Hour), nil)
	h.finishDials()
	h.mustGrant(b)
}
