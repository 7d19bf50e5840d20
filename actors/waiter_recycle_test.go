package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestARecycledWaiterKeepsNoHolder: a waiter's record goes to the queue's
// free list for reuse when it leaves, and must not keep its acquire's
// holder there: the holder is the caller's Lease, which would stay
// reachable (with the connection it once held) for as long as the pool
// keeps the record. Kills the mutant that drops the clear in recycle.
func TestARecycledWaiterKeepsNoHolder(t *testing.T) {
	var q waitQueue
	now := time.Unix(1_700_000_000, 0)
	a := q.push(1, nil, now, time.Time{}, &fakeHolder{"a"})
	b := q.push(2, nil, now, time.Time{}, &fakeHolder{"b"})
	q.remove(a) // the head: recycled at once
	q.remove(b) // the last: the queue empties
	require.Len(t, q.free, 2)
	for _, w := range q.free {
		require.Nil(t, w.holder, "a recycled record keeps its caller's holder")
	}
}
