package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestARetiringPoolDoesNotRefillMinSize: a pool quiet for RetireAfter
// closes its idle connections and asks to retire once the closes finish. A
// MinSize refill meanwhile (serve runs after each CloseDone) would open a
// connection only to close it again, and keep the pool from ever being
// quiet enough to retire. Kills the mutant that lets fillMin run while
// retireDue.
func TestARetiringPoolDoesNotRefillMinSize(t *testing.T) {
	h := newHarness(t, PoolConfig{MinSize: 1, MaxSize: 2, RetireAfter: time.Minute})
	h.finishDials()
	h.advance(time.Minute)
	h.tick()
	require.Equal(t, 1, h.closeReasons()[ReasonPoolClosed], "the idle connection closes first")
	require.Empty(t, h.retires, "asked once the close has finished")
	h.finishCloses()
	require.Empty(t, h.dials, "no MinSize refill for a retiring pool")
	require.Len(t, h.retires, 1)
}
