package actors

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAGrantAnsweringTheLastWaiterRequestEndsWaiterAsked: once a grant has
// answered the last permit request made for a waiter, only MinSize fills
// can be outstanding, and a fill covering a waiter that gives up is kept,
// not withdrawn (withdrawing it would leave the pool below MinSize with a
// fill asked again, refused at the cap). Kills the mutant that drops
// noneAwaiting from permitAnswered (waiterAsked then stayed true after the
// grant, and the fill was withdrawn).
func TestAGrantAnsweringTheLastWaiterRequestEndsWaiterAsked(t *testing.T) {
	h := newHarness(t, PoolConfig{MinSize: 1, MaxSize: 3, NeedsPermit: true})
	require.Equal(t, 1, h.permitAsks, "the MinSize fill")
	h.grantPermit()
	h.finishDials()
	a := h.acquire()
	h.mustGrant(a)
	b := h.acquire()
	require.Equal(t, 1, h.permitAsks, "b's own request, made for a waiter")
	h.grantPermit() // the last request made for a waiter is answered
	h.finishDials()
	h.mustGrant(b)

	h.release(a, true)
	h.release(b, true)
	h.finishCloses()
	require.Equal(t, 1, h.permitAsks, "below MinSize: a fill")
	c := h.acquire()
	require.Equal(t, 1, h.permitAsks, "the fill covers c")
	assert.Empty(t, stepWithdrawEffects(h, Cancel{ID: c}), "only a fill outstanding: nothing is asked back")
	assert.Equal(t, 1, h.permitAsks)
}
