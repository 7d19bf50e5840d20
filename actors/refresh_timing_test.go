package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRefreshAheadWaitsForTheThreshold: the background mint starts once the
// newest token is inside the threshold, not before: a Tick earlier (for an
// idle timeout, a waiter's deadline) mints nothing, since azidentity would
// only hand back its cached token. Kills the mutant that refreshes a wider
// window ahead.
func TestRefreshAheadWaitsForTheThreshold(t *testing.T) {
	cfg := tokenCfg()
	cfg.RefreshAhead = true
	h := newHarness(t, cfg)
	a := h.acquire()
	h.finishMint(h.tok("T", 10*time.Minute), nil)
	h.finishDials()
	h.mustGrant(a)             // held: the sweep closes no connection at the threshold
	h.advance(4 * time.Minute) // T is valid for 6 minutes more, beyond the 5-minute threshold
	h.tick()
	require.Zero(t, h.mints, "no refresh while the token is valid beyond the threshold")
	h.advance(time.Minute)
	h.tick()
	require.Equal(t, 1, h.mints, "the refresh starts at the threshold")
}
