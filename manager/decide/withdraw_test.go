package decide

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pools spawns one pool per disc under MaxTotal limit and returns their ids.
func pools(t *testing.T, limit int, discs ...string) (*Manager, []PoolID) {
	t.Helper()
	m := New(Config{Server: "srv", MaxTotal: limit})
	var ids []PoolID
	for _, d := range discs {
		_, effs := step(m, Acquire{Disc: d})
		ids = append(ids, effs[0].Pool)
	}
	return m, ids
}

func TestWithdrawPermitRemovesTheYoungestQueuedRequestAndCancelsItsSteal(t *testing.T) {
	m, ids := pools(t, 1, "a", "b", "c")
	a, b, c := ids[0], ids[1], ids[2]
	kinds, _ := step(m, PermitRequest{Pool: a})
	require.Equal(t, []EffectKind{EffGrantPermit}, kinds)
	for _, p := range []PoolID{b, c, b} {
		kinds, effs := step(m, PermitRequest{Pool: p})
		require.Equal(t, []EffectKind{EffSteal}, kinds)
		require.Equal(t, a, effs[0].Pool)
	}
	_, waiting := m.Permits()
	require.Equal(t, 3, waiting)

	kinds, effs := step(m, WithdrawPermit{Pool: b})
	require.Equal(t, []EffectKind{EffPermitWithdrawn, EffCancelSteal}, kinds)
	assert.Equal(t, b, effs[0].Pool)
	assert.True(t, effs[0].Removed)
	assert.Equal(t, a, effs[1].Pool, "the steal is called off where it was sent")
	assert.Equal(t, []PoolID{b, c}, m.book.queue, "the youngest of b's requests went")

	// a pays one steal: the permit serves the queue's head, b. The other
	// steal still out is c's: no more is asked for (one more would close a
	// connection for nobody).
	kinds, effs = step(m, PermitReturn{Pool: a})
	require.Equal(t, []EffectKind{EffGrantPermit}, kinds, "c's steal is still out")
	assert.Equal(t, b, effs[0].Pool)
	assert.Equal(t, 1, m.book.stealsOut)
	kinds, effs = step(m, WithdrawPermit{Pool: c})
	require.Equal(t, []EffectKind{EffPermitWithdrawn, EffCancelSteal}, kinds,
		"nothing queued: the steal still out is called off")
	assert.True(t, effs[0].Removed)
	_, waiting = m.Permits()
	assert.Zero(t, waiting)
	assert.Zero(t, m.book.stealsOut)
	inUse, _ := m.Permits()
	assert.Equal(t, 1, inUse, "withdrawals never touch the permits in use")
}

func TestWithdrawPermitAfterTheGrantRemovesNothing(t *testing.T) {
	m, ids := pools(t, 2, "a")
	step(m, PermitRequest{Pool: ids[0]})
	kinds, effs := step(m, WithdrawPermit{Pool: ids[0]})
	require.Equal(t, []EffectKind{EffPermitWithdrawn}, kinds)
	assert.False(t, effs[0].Removed, "already granted: the pool returns the permit itself")
	inUse, waiting := m.Permits()
	assert.Equal(t, 1, inUse)
	assert.Zero(t, waiting)

	// Nor after Close, which denied every queued request.
	m, ids = pools(t, 1, "a", "b")
	step(m, PermitRequest{Pool: ids[0]})
	step(m, PermitRequest{Pool: ids[1]})
	kinds, _ = step(m, Close{})
	require.Contains(t, kinds, EffDenyPermit)
	_, effs = step(m, WithdrawPermit{Pool: ids[1]})
	assert.False(t, effs[0].Removed)
}

func TestWithdrawPermitCancelsOnlyUnsettledSteals(t *testing.T) {
	m, ids := pools(t, 2, "a", "b", "c")
	a, b, c := ids[0], ids[1], ids[2]
	step(m, PermitRequest{Pool: a})
	step(m, PermitRequest{Pool: c})
	_, effs := step(m, PermitRequest{Pool: b})
	require.Equal(t, a, effs[0].Pool, "the oldest of the richest is asked first")
	kinds, effs := step(m, StealRefused{Pool: a})
	require.Equal(t, []EffectKind{EffSteal}, kinds)
	require.Equal(t, c, effs[0].Pool, "a refused: c is asked")

	kinds, effs = step(m, WithdrawPermit{Pool: b})
	require.Equal(t, []EffectKind{EffPermitWithdrawn, EffCancelSteal}, kinds)
	assert.Equal(t, c, effs[1].Pool, "a's refusal settled its steal: only c's is called off")

	// A steal paid (any permit back from the pool asked) is not called off.
	_, effs = step(m, PermitRequest{Pool: b})
	require.Equal(t, EffSteal, effs[0].Kind)
	victim := effs[0].Pool
	kinds, _ = step(m, PermitReturn{Pool: victim})
	require.Equal(t, []EffectKind{EffGrantPermit}, kinds)
	kinds, effs = step(m, WithdrawPermit{Pool: b})
	require.Equal(t, []EffectKind{EffPermitWithdrawn}, kinds)
	assert.False(t, effs[0].Removed)
}

func TestDrainedPoolOwesNoSteal(t *testing.T) {
	m, ids := pools(t, 1, "a", "b")
	a, b := ids[0], ids[1]
	step(m, PermitRequest{Pool: a})
	step(m, PermitRequest{Pool: b})
	step(m, PermitRequest{Pool: b})
	require.Equal(t, 2, m.book.stealsOut, "both asked of a")
	step(m, RetireRequest{Pool: a, Seen: 1})
	step(m, RouteClosed{Pool: a, Sent: 1})
	kinds, _ := step(m, PermitReturn{Pool: a}) // its connection closed
	require.Equal(t, []EffectKind{EffGrantPermit}, kinds, "b is served; no one else to steal from")
	require.Equal(t, 1, m.book.stealsOut)
	step(m, Drained{Pool: a, Seen: 1, Sent: 1})
	assert.Zero(t, m.book.stealsOut, "a drained pool owes nothing")
	kinds, _ = step(m, WithdrawPermit{Pool: b})
	assert.Equal(t, []EffectKind{EffPermitWithdrawn}, kinds, "so nothing to call off at a stopped pool")
}

// A refusal that crosses the cancel of its steal asks no one else: the
// steals still out cover the queue. Before, it asked another pool, whose
// connection was then closed for nobody.
func TestStealRefusedAfterItsCancelStealsNoMore(t *testing.T) {
	m, ids := pools(t, 3, "a", "b", "c")
	a, b, c := ids[0], ids[1], ids[2]
	step(m, PermitRequest{Pool: a})
	step(m, PermitRequest{Pool: a})
	step(m, PermitRequest{Pool: b})
	_, effs := step(m, PermitRequest{Pool: c})
	require.Equal(t, a, effs[0].Pool)
	_, effs = step(m, PermitRequest{Pool: c})
	require.Equal(t, a, effs[0].Pool, "both of c's requests asked of a, the richest")
	kinds, effs := step(m, StealRefused{Pool: a})
	require.Equal(t, []EffectKind{EffSteal}, kinds)
	require.Equal(t, b, effs[0].Pool, "a refused one: b is asked")

	kinds, effs = step(m, WithdrawPermit{Pool: c})
	require.Equal(t, []EffectKind{EffPermitWithdrawn, EffCancelSteal}, kinds)
	require.Equal(t, a, effs[1].Pool, "a's steal is called off")

	// a refuses the steal called off: the refusal crossed the cancel.
	kinds, _ = step(m, StealRefused{Pool: a})
	assert.Empty(t, kinds, "b's steal is still out for c's one request")
	assert.Equal(t, 1, m.book.stealsOut)

	// b's refusal leaves c's request with no steal: another is asked for.
	kinds, _ = step(m, StealRefused{Pool: b})
	require.Empty(t, kinds, "a and b refused since the last grant: no one left to ask")
	kinds, effs = step(m, PermitReturn{Pool: b})
	require.Equal(t, []EffectKind{EffGrantPermit}, kinds)
	assert.Equal(t, c, effs[0].Pool)
}

// A request that queued with no pool to ask gets its steal at the next
// permit back that serves the queue.
func TestPermitReturnStealsForARequestWithNone(t *testing.T) {
	m, ids := pools(t, 1, "a", "b", "c")
	a, b, c := ids[0], ids[1], ids[2]
	step(m, PermitRequest{Pool: a})
	step(m, PermitRequest{Pool: b}) // a asked
	kinds, _ := step(m, StealRefused{Pool: a})
	require.Empty(t, kinds, "no one else holds a permit")
	kinds, _ = step(m, PermitRequest{Pool: c})
	require.Empty(t, kinds, "a refused since the last grant: no one to ask")
	kinds, effs := step(m, PermitReturn{Pool: a})
	require.Equal(t, []EffectKind{EffGrantPermit, EffSteal}, kinds)
	assert.Equal(t, b, effs[0].Pool)
	assert.Equal(t, b, effs[1].Pool, "c's request had no steal: b, now holding, is asked")
}
