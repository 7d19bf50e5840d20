package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAnEvictedConnectionFailingItsHealthCheckIsClosedAsEvicted: a
// connection in a health check at Evict is closed when the check ends,
// for the Evict, whatever the check found: Stats count it as evicted, not
// as a failed health check (the server did not fail it; the caller asked
// for it to go).
func TestAnEvictedConnectionFailingItsHealthCheckIsClosedAsEvicted(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 2, HealthCheckAfter: time.Second})
	a := h.acquire()
	h.finishDials()
	h.release(a, false)
	h.advance(2 * time.Second)
	b := h.acquire()
	require.Len(t, h.validates, 1)

	h.evict("e")
	h.finishValidate(false)
	require.Equal(t, map[CloseReason]int{ReasonEvicted: 1}, h.closeReasons())
	h.finishCloses()
	require.Equal(t, []any{"e"}, h.evicted)
	h.finishDials()
	h.mustGrant(b)
}
