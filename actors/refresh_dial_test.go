package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRefreshAheadDialsWithTheKeptTokenOnlyWhileItIsValidBeyondTheThreshold:
// a RefreshAhead pool dials with the newest token it holds without minting
// (startPermittedDial), but only while that token is valid beyond the
// threshold. Once it is inside (no Tick has started the background mint
// yet), a dial mints first: a session must not log in with a token about to
// expire. Kills the mutant that dials with any kept token.
func TestRefreshAheadDialsWithTheKeptTokenOnlyWhileItIsValidBeyondTheThreshold(t *testing.T) {
	cfg := tokenCfg()
	cfg.RefreshAhead = true
	h := newHarness(t, cfg)
	a := h.acquire()
	h.finishMint(h.tok("T", 10*time.Minute), nil)
	h.finishDials()
	h.mustGrant(a)

	h.advance(6 * time.Minute) // T is inside the 5-minute threshold
	b := h.acquire()           // a holds the only connection: b needs a dial
	require.Empty(t, h.dials, "no dial with a token inside the threshold")
	require.Equal(t, 1, h.mints, "a new token is minted first")
	fresh := h.tok("fresh", time.Hour)
	h.finishMint(fresh, nil)
	require.Len(t, h.dials, 1)
	require.Equal(t, fresh, h.dials[0])
	h.finishDials()
	h.mustGrant(b)
}
