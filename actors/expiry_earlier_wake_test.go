package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAnIdleConnectionsExpiryMovedEarlierByAMintGetsAWake: a mint (here a
// MinSize refill's) brings back the token an idle connection logged in
// with, the source now saying it expires sooner. The idle connection takes
// the new expiry and the pool asks for a Tick by its new threshold, so the
// sweep closes it in time even while the refill's dial is still in flight
// (its own wake would come only when it opens). Kills the mutant of
// refreshExpiry that asks no wake for an idle connection.
func TestAnIdleConnectionsExpiryMovedEarlierByAMintGetsAWake(t *testing.T) {
	cfg := tokenCfg()
	cfg.MinSize, cfg.MaxSize = 2, 2
	h := newHarness(t, cfg)
	h.finishMint(h.tok("T", time.Hour), nil)
	h.finishDials()
	h.tick() // the next Tick is the tokens' threshold, 55 minutes away
	a := h.acquire()
	h.mustGrant(a)
	h.release(a, true)
	h.finishCloses()
	require.Equal(t, 1, h.mints, "the refill mints")
	h.wakes = nil
	sooner := h.tok("T", 20*time.Minute)
	h.finishMint(sooner, nil)
	require.Len(t, h.dials, 1, "the refill's dial is in flight")
	threshold := sooner.ExpiresOn.Add(-cfg.TokenThreshold)
	require.NotEmpty(t, h.wakes, "a Tick asked for the idle connection's new threshold")
	assert.False(t, h.wakes[len(h.wakes)-1].After(threshold))

	h.now = threshold
	h.tick()
	assert.Equal(t, 1, h.closeReasons()[ReasonTokenExpiring], "the sweep closes it at its new threshold")
}
