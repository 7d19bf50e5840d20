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

	// a pays one steal: the permit serves the queue's head, b.
	kinds, effs = step(m, PermitReturn{Pool: a})
	require.Equal(t, []EffectKind{EffGrantPermit, EffSteal}, kinds, "and a steal stays out for c")
	assert.Equal(t, b, effs[0].Pool)
	kinds, effs = step(m, WithdrawPermit{Pool: c})
	require.Equal(t, []EffectKind{EffPermitWithdrawn, EffCancelSteal, EffCancelSteal}, kinds,
		"nothing queued: both steals still out are called off")
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
