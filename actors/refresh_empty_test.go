package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRefreshAheadMintsNothingForAPoolWithNoConnection: the background mint
// keeps a token fresh for the connections a pool has open; with none open
// (the last came back broken), a Tick past the threshold mints nothing: the
// next dial mints for itself, and an idle identity does not ask the token
// endpoint every token lifetime for nobody. Kills the mutant that leaves
// the open-connection test out of refreshAhead.
func TestRefreshAheadMintsNothingForAPoolWithNoConnection(t *testing.T) {
	cfg := tokenCfg()
	cfg.RefreshAhead = true
	h := newHarness(t, cfg)
	a := h.acquire()
	h.finishMint(h.tok("T", 10*time.Minute), nil)
	h.finishDials()
	h.release(a, true)
	h.finishCloses()
	require.Empty(t, h.p.conns)
	h.advance(6 * time.Minute)
	h.tick()
	require.Zero(t, h.mints)
}
