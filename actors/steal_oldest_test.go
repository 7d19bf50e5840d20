package actors

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAStealTakesTheConnectionIdleTheLongest: under the global cap a
// StealIdle closes the pool's oldest idle connection (stealIdle), the one
// idle the longest and next to time out, and leaves the most recently
// returned one, warm, to be reused first (idle reuse is LIFO).
func TestAStealTakesTheConnectionIdleTheLongest(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 3, NeedsPermit: true})
	a, b, c := h.acquire(), h.acquire(), h.acquire()
	for range 3 {
		h.grantPermit()
	}
	h.finishDials()
	ca, cb, cc := h.mustGrant(a), h.mustGrant(b), h.mustGrant(c)
	h.release(b, false) // idle the longest
	h.release(a, false)
	h.release(c, false) // the most recent

	h.steal()
	require.Len(t, h.closes, 1)
	require.Equal(t, ReasonStolen, h.closes[0].Reason)
	require.Equal(t, cb, h.closes[0].Conn, "the connection idle the longest is stolen")

	d := h.acquire()
	require.Equal(t, cc, h.mustGrant(d), "the most recently returned is still reused first")
	e := h.acquire()
	require.Equal(t, ca, h.mustGrant(e))
}
