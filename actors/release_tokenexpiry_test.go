package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAConnectionReleasedAtItsTokensExpiryIsClosed: at the instant its
// token expires a connection is dead (deadAt: not before ExpiresOn), as at
// the instant its lifetime ends; released then, it is closed at once, not
// parked. Kills the mutant that keeps a connection released exactly at its
// token's expiry.
func TestAConnectionReleasedAtItsTokensExpiryIsClosed(t *testing.T) {
	h := newHarness(t, tokenCfg())
	a := h.acquire()
	h.finishMint(h.tok("T", 10*time.Minute), nil)
	h.finishDials()
	h.advance(10 * time.Minute)
	h.release(a, false)
	require.Equal(t, 1, h.closeReasons()[ReasonTokenExpired])
	require.Empty(t, h.p.idle)
}
