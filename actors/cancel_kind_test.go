package actors

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestACancelledAcquireSaysItWasCancelled: a Cancel whose caller's ctx was
// cancelled (Timeout false) answers with a TimeoutError marked Canceled,
// which matches context.Canceled; one whose deadline passed (Timeout true)
// matches context.DeadlineExceeded. Kills the mutant that inverts Canceled
// in cancel.
func TestACancelledAcquireSaysItWasCancelled(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 1})
	a := h.acquire()
	h.finishDials()
	h.mustGrant(a)
	for _, timeout := range []bool{false, true} {
		b := h.acquire()
		h.step(Cancel{ID: b, Timeout: timeout})
		e, ok := h.answer(b)
		require.True(t, ok)
		require.Equal(t, EffCancelled, e.Kind)
		var te *TimeoutError
		require.ErrorAs(t, e.Err, &te)
		require.Equal(t, !timeout, te.Canceled, "timeout=%v", timeout)
		require.Equal(t, !timeout, errors.Is(e.Err, context.Canceled), "timeout=%v", timeout)
		require.Equal(t, timeout, errors.Is(e.Err, context.DeadlineExceeded), "timeout=%v", timeout)
	}
}
