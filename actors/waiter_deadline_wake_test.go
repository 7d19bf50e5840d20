package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestATickAsksForTheNextWaitersDeadline: the pool has one timer, and each
// Tick recomputes it from scratch (rescheduleWake). After the Tick that
// fails the first waiter at its deadline, the next Tick must come by the
// deadline of the waiter still queued: nothing else (no idle connection, no
// retirement) asks for one, and without it that waiter would wait past its
// timeout until some unrelated input. Kills the mutant that leaves the
// waiters' deadlines out of rescheduleWake.
func TestATickAsksForTheNextWaitersDeadline(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 1})
	a := h.acquire()
	h.finishDials()
	h.mustGrant(a)
	b := h.acquireWithin(time.Second)
	c := h.acquireWithin(5 * time.Second)
	h.advance(time.Second)
	h.tick()
	_, answered := h.answer(b)
	require.True(t, answered, "b timed out")
	require.Equal(t, h.now.Add(4*time.Second), h.p.wakeAt, "the next Tick comes at c's deadline")
	h.now = h.p.wakeAt
	h.tick()
	_, answered = h.answer(c)
	require.True(t, answered, "c timed out at its own deadline")
}
