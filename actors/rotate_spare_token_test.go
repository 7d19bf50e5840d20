package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestARotatedTokenWaitsForTheSlotItsCloseHolds: at MaxSize 1 the rotated
// connection's own close holds the only slot, so the waiter sent back to
// the queue cannot be dialed for yet. The fresh token the rotation minted is
// kept for it (a waiter no dial covers keeps one), and the dial made once
// the close finishes uses it: one mint, not two. Kills the mutant of
// dropSpareTokens that keeps fewer tokens (only those for permit requests).
func TestARotatedTokenWaitsForTheSlotItsCloseHolds(t *testing.T) {
	cfg := tokenCfg()
	cfg.MaxSize = 1
	h, b := acquireOnAnIdleTokenInsideTheThreshold(t, cfg)
	require.Equal(t, 1, h.mints, "the candidate's token is checked")
	fresh := h.tok("NEW", time.Hour)
	h.finishMint(fresh, nil)
	require.Equal(t, 1, h.closeReasons()[ReasonTokenRotated])
	require.Empty(t, h.dials, "the rotated connection's close holds the only slot")
	require.Equal(t, 1, h.p.freshTokenCount(), "the fresh token is kept for b")

	h.finishCloses()
	assert.Zero(t, h.mints, "no second mint")
	require.Len(t, h.dials, 1)
	assert.Equal(t, fresh, h.dials[0], "the dial uses the token the rotation minted")
	h.finishDial(nil)
	h.mustGrant(b)
	assert.EqualValues(t, 2, h.p.Stats().TokenMints)
}

// acquireOnAnIdleTokenInsideTheThreshold returns a token pool of cfg whose
// one connection, opened with token OLD (ten minutes) and granted, came
// back idle, six minutes later (OLD inside tokenCfg's five-minute
// threshold), and the acquire b then made, which the connection's token
// check holds.
func acquireOnAnIdleTokenInsideTheThreshold(t *testing.T, cfg PoolConfig) (h *harness, b uint64) {
	t.Helper()
	h = newHarness(t, cfg)
	a := h.acquire()
	h.finishMint(h.tok("OLD", 10*time.Minute), nil)
	h.finishDials()
	h.mustGrant(a)
	h.release(a, false)
	h.advance(6 * time.Minute)
	return h, h.acquire()
}
