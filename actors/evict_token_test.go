package actors

import (
	"testing"
	"time"

	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/require"
)

// TestEvictDropsTheTokenKeptFreshAhead: Evict promises that the next
// connection logs in with a token minted after it. A RefreshAhead pool dials
// with the newest token it holds without minting (startPermittedDial): if
// Evict kept that token, the first connection after it logged in with the
// token of before, the one the caller evicted to be rid of.
func TestEvictDropsTheTokenKeptFreshAhead(t *testing.T) {
	cfg := tokenCfg()
	cfg.RefreshAhead = true
	h := newHarness(t, cfg)
	a := h.acquire()
	before := h.tok("before", time.Hour)
	h.finishMint(before, nil)
	h.finishDials()
	h.mustGrant(a)

	h.evict("e")
	b := h.acquire()
	require.Empty(t, h.dials, "no dial with the token of before the Evict")
	require.Equal(t, 1, h.mints, "a new token is minted first")
	after := h.tok("after", time.Hour)
	h.finishMint(after, nil)
	require.Equal(t, []tokens.Token{after}, h.dials)
	h.finishDials()
	h.mustGrant(b)
}
