package actors

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestADeniedPermitFailsItsWaiterWithErrClosed: the manager denies a permit
// it will never grant (it is closing); the waiter the request was made for
// fails with ErrClosed at once rather than wait for a permit that never
// comes (its timeout, or for ever without one). Kills the mutant that drops
// failUncovered from permitDenied.
func TestADeniedPermitFailsItsWaiterWithErrClosed(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 2, NeedsPermit: true})
	a := h.acquire()
	require.Equal(t, 1, h.permitAsks)
	h.reqSeq, h.permitAsks = h.reqSeq[1:], 0
	h.step(PermitDenied{})
	e, answered := h.answer(a)
	require.True(t, answered, "the waiter is answered at once")
	require.Equal(t, EffFail, e.Kind)
	require.ErrorIs(t, e.Err, ErrClosed)
	require.Empty(t, h.dials)
}
