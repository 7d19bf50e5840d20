package actors

import (
	"fmt"
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

// TestEvictDuringAHealthCheckClosesTheConnectionWhenTheCheckEnds: a
// connection in a health check at Evict is closed when the check ends, for
// the Evict, whatever the check found: Stats count it as evicted, not as a
// failed health check when it failed (the server did not fail it; the
// caller asked for it to go).
func TestEvictDuringAHealthCheckClosesTheConnectionWhenTheCheckEnds(t *testing.T) {
	for _, healthy := range []bool{true, false} {
		t.Run(fmt.Sprintf("healthy=%v", healthy), func(t *testing.T) {
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
			h.finishValidate(healthy)
			assert.Equal(t, map[CloseReason]int{ReasonEvicted: 1}, h.closeReasons())
			h.finishCloses()
			assert.Equal(t, []any{"e"}, h.evicted)
			h.finishMint(h.tok("T2", time.Hour), nil)
			h.finishDials()
			h.mustGrant(b)
		})
	}
}

// TestEvictWaitsForClosesAlreadyInFlight: a connection whose close began
// before the Evict (here it came back broken) was the pool's session at the
// call too, so the Evict is answered only once that close has finished;
// closes of connections opened after the Evict do not count, and a second
// Evict waits for what is still in flight then.
func TestEvictWaitsForClosesAlreadyInFlight(t *testing.T) {
	h := newHarness(t, tokenCfg())
	a, b := h.acquire(), h.acquire()
	h.finishMint(h.tok("T1", time.Hour), nil)
	h.finishDials()
	h.release(a, true) // broken: its close is in flight
	require.Len(t, h.closes, 1)
	inFlight := h.closes[0]
	h.closes = nil

	h.evict("e1")
	h.release(b, false) // closes, evicted
	h.finishCloses()
	assert.Empty(t, h.evicted, "the broken connection's close has not finished")

	// A connection opened after the Evict, broken and closed, is not one
	// of those it waits for.
	c := h.acquire()
	h.finishMint(h.tok("T2", time.Hour), nil)
	h.finishDials()
	h.mustGrant(c)
	h.release(c, true)
	h.finishCloses()
	assert.Empty(t, h.evicted, "a later close does not stand in for the one in flight at the call")

	h.evict("e2")
	assert.Empty(t, h.evicted, "the second Evict waits for it too")
	h.step(CloseDone{Conn: inFlight.Conn})
	assert.Equal(t, []any{"e1", "e2"}, h.evicted)
}

// TestEvictOfAClosingPoolWaitsForItsCloses: a pool that is closing (a
// retirement agreed, the manager closing) still holds its sessions until
// their closes finish; an Evict then is answered only after them.
func TestEvictOfAClosingPoolWaitsForItsCloses(t *testing.T) {
	h := newHarness(t, tokenCfg())
	a := h.acquire()
	h.finishMint(h.tok("T1", time.Hour), nil)
	h.finishDials()
	h.release(a, false)
	h.step(Close{})
	require.Len(t, h.closes, 1, "the idle connection is closing")
	h.evict("e")
	assert.Empty(t, h.evicted)
	h.finishCloses()
	assert.Equal(t, []any{"e"}, h.evicted)
}
