package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAnAcquireDuringRetirementResumesTheMinSizeFill: a pool that began to
// retire (its idle connections closing, MinSize fills off: retireDue) is
// busy again as soon as an acquire comes, and keeps its MinSize once the
// retirement's closes have finished. Kills the mutant that leaves retireDue
// set on acquire (the pool then stayed below MinSize until it next went
// quiet).
func TestAnAcquireDuringRetirementResumesTheMinSizeFill(t *testing.T) {
	h := newHarness(t, PoolConfig{MinSize: 2, MaxSize: 3, RetireAfter: time.Minute})
	h.finishDials()
	h.advance(time.Minute)
	h.tick()
	require.Equal(t, 2, h.closeReasons()[ReasonPoolClosed], "retirement closes the idle connections")
	a := h.acquire()
	require.Len(t, h.dials, 1, "the acquire dials in the one free slot")
	h.finishCloses()
	require.Len(t, h.dials, 2, "the slots freed: MinSize is filled again")
	h.finishDials()
	h.mustGrant(a)
	require.Empty(t, h.retires)
}
