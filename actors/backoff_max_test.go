package actors

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestABlockingPeriodNeverExceedsDialBackoffMax: the period doubles with
// each failure in a row, up to DialBackoffMax (plus its +-20% jitter). An
// acquire failed inside the period says when it ends (BlockedError.Until);
// after many failures that is still at most DialBackoffMax away.
func TestABlockingPeriodNeverExceedsDialBackoffMax(t *testing.T) {
	refused := errors.New("login refused")
	const base, capped = time.Second, 2 * time.Second
	h := newHarness(t, PoolConfig{MaxSize: 1, DialBackoff: base, DialBackoffMax: capped, Seed: 7})
	for i := range 8 {
		h.advance(time.Hour) // past any period: the next acquire dials
		a := h.acquire()
		require.Len(t, h.dials, 1, "failure %d: a dial", i+1)
		h.finishDial(refused)
		e, ok := h.answer(a)
		require.True(t, ok)
		require.Equal(t, EffFail, e.Kind)
		if i == 0 {
			continue // one failure starts no period
		}
		b := h.acquire() // inside the period: failed at once
		e, ok = h.answer(b)
		require.True(t, ok, "failure %d: an acquire inside the period fails at once", i+1)
		var be *BlockedError
		require.ErrorAs(t, e.Err, &be)
		left := be.Until.Sub(h.now)
		require.Positive(t, left)
		require.LessOrEqual(t, left, capped+capped/5, "failure %d: period of %s, over DialBackoffMax", i+1, left)
	}
}
