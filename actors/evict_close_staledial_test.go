package actors

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAStaleDialLandingAfterCloseClosesForThePoolsClose: a dial begun
// before an Evict that lands once the pool is closing is closed because the
// pool closes (ReasonPoolClosed, what the close metrics and logs count for a
// closing pool), the Evict is answered once that close finishes, and the
// pool drains. Kills the mutant that drops p.closing from dialDoneEpoch's
// test (the connection then took the evict path and was counted Evicted).
func TestAStaleDialLandingAfterCloseClosesForThePoolsClose(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 2})
	h.acquire()
	require.Len(t, h.dials, 1)
	h.evict("e")
	h.step(Close{})
	require.Empty(t, h.evicted, "the dial of before the Evict is still in flight")

	h.finishDial(nil)
	assert.Equal(t, map[CloseReason]int{ReasonPoolClosed: 1}, h.closeReasons())
	h.finishCloses()
	assert.Equal(t, []any{"e"}, h.evicted)
	assert.Equal(t, 1, h.drained)
}
