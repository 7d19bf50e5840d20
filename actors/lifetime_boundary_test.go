package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAConnectionIsClosedAtTheTickOfItsDeadline: an idle connection's wake
// is its lifetime deadline itself, so the Tick the pool asked for comes at
// that instant (exactly, under a fake Config.Clock). A connection counted
// as dead only after its deadline survived that Tick, and the pool, finding
// the same connection due, asked for a Tick at now again: with a clock that
// does not move, for ever. A lifetime ends at its deadline, not after it.
func TestAConnectionIsClosedAtTheTickOfItsDeadline(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 2, MaxLifetime: time.Minute})
	a := h.acquire()
	h.finishDials()
	h.release(a, false)
	h.runTimersFor(time.Minute) // Ticks at the deadline, and ends there
	require.Equal(t, 1, h.closeReasons()[ReasonLifetime], "closed at its deadline's Tick")

	// The same at a grant: a connection reaching its deadline is not handed out.
	h.finishCloses()
	b := h.acquire()
	h.finishDials()
	h.release(b, false)
	h.advance(time.Minute)
	c := h.acquire()
	require.Equal(t, 1, h.closeReasons()[ReasonLifetime], "not granted at its deadline")
	_, answered := h.answer(c)
	require.False(t, answered, "waits for a new dial")
}
