package actors

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAClosedPoolDrainsOnlyOnceItsMintHasLanded: EffDrained tells the
// manager it may stop the actor; a mint still in flight would then report
// to an actor that is gone, with nothing to settle the checks waiting on
// it. So a closing pool drains only after its MintDone. Kills the mutant
// that leaves minting out of maybeDrained.
func TestAClosedPoolDrainsOnlyOnceItsMintHasLanded(t *testing.T) {
	h := newHarness(t, tokenCfg())
	a := h.acquire()
	require.Equal(t, 1, h.mints)
	h.step(Close{})
	e, answered := h.answer(a)
	require.True(t, answered)
	require.ErrorIs(t, e.Err, ErrClosed)
	require.Zero(t, h.drained, "not drained while the mint is in flight")
	h.finishMint(h.tok("T", 0), nil)
	require.Equal(t, 1, h.drained)
}
