package actors

import (
	"testing"
	"time"

	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/require"
)

// TestEvictDropsTheTokenARotationKeptForAWaiter: a rotation keeps the fresh
// token it minted for the waiter it sent back to the queue (rotate), so that
// the waiter's dial needs no second mint; when the dial must wait for a slot
// (the rotated connection's close, here), the token waits too. Evict
// promises that the next connection logs in with a token minted after it:
// the kept token was minted before, so it is dropped and the dial mints
// again. Kills the mutant that leaves freshTokens alone in evict.
func TestEvictDropsTheTokenARotationKeptForAWaiter(t *testing.T) {
	cfg := tokenCfg()
	cfg.MaxSize = 1
	h, b := acquireOnAnIdleTokenInsideTheThreshold(t, cfg)
	h.finishMint(h.tok("NEW", time.Hour), nil)
	require.Equal(t, 1, h.closeReasons()[ReasonTokenRotated])
	require.Empty(t, h.dials, "the rotated connection's close still holds the only slot")
	require.Equal(t, 1, h.p.freshTokenCount(), "the fresh token is kept for b's dial")

	h.evict("e")
	h.finishCloses()
	require.Empty(t, h.dials, "no dial with a token minted before the Evict")
	require.Equal(t, 1, h.mints, "a token is minted after the Evict first")
	after := h.tok("after", time.Hour)
	h.finishMint(after, nil)
	require.Equal(t, []tokens.Token{after}, h.dials)
	h.finishDials()
	h.mustGrant(b)
}

// TestEvictDuringATokenCheckServesItsWaiter: Evict closes at once a
// connection whose token check waits for the mint, and the waiter it was
// checked for goes back to the queue, unbound, to be served by a new dial.
// Left bound to the closed connection, it counted as being served: no dial
// was made for it, and it waited until its own deadline. Kills the mutant
// that drops the unbind in evict.
func TestEvictDuringATokenCheckServesItsWaiter(t *testing.T) {
	h, b := acquireOnAnIdleTokenInsideTheThreshold(t, tokenCfg()) // its candidate's token check mints
	require.Equal(t, 1, h.mints)

	h.evict("e")
	require.Equal(t, 1, h.closeReasons()[ReasonEvicted], "the checked connection is closed now")
	h.finishMint(h.tok("stale", time.Hour), nil) // begun before the Evict: dropped, minted again
	require.Equal(t, 1, h.mints)
	fresh := h.tok("fresh", time.Hour)
	h.finishMint(fresh, nil)
	require.Equal(t, []tokens.Token{fresh}, h.dials, "b is dialed for")
	h.finishDials()
	h.mustGrant(b)
}
