package actors

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAFailedDialSparesAWaiterAnotherDialCovers: a failed dial fails the
// oldest waiter only if no other dial in flight will serve it (failUncovered).
// Here a MinSize fill is dialing two connections when the one acquire
// comes: it queues, covered by them, and the first dial's failure must not
// cost it its answer while the second may still open. Kills the mutant that
// fails a waiter whatever the dials still coming.
func TestAFailedDialSparesAWaiterAnotherDialCovers(t *testing.T) {
	h := newHarness(t, PoolConfig{MinSize: 2, MaxSize: 3})
	require.Len(t, h.dials, 2, "the MinSize fill")
	a := h.acquire()
	require.Len(t, h.dials, 2, "the fill's dials cover the waiter")
	h.finishDial(errors.New("connection reset"))
	_, answered := h.answer(a)
	require.False(t, answered, "the second dial in flight still covers the waiter")
	h.finishDial(nil)
	h.mustGrant(a)
}
