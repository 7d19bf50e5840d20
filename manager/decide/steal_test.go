package decide

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A permit back that pays no steal (a close of the pool's own: a broken
// connection, one past its lifetime) serves the request a steal was out
// for: that steal is called off, or it would close a connection for
// nobody. Before, it stayed out: a, asked for b, closed its next released
// connection once b had been served by c's permit.
func TestPermitReturnThatPaysNoStealCallsOffTheStealItMadeNeedless(t *testing.T) {
	m, ids := pools(t, 2, "a", "b", "c")
	a, b, c := ids[0], ids[1], ids[2]
	step(m, PermitRequest{Pool: a})
	step(m, PermitRequest{Pool: c})
	kinds, effs := step(m, PermitRequest{Pool: b})
	require.Equal(t, []EffectKind{EffSteal}, kinds)
	require.Equal(t, a, effs[0].Pool, "the oldest of the richest is asked")

	// c's connection closes for a reason of its own: its permit serves b.
	kinds, effs = step(m, PermitReturn{Pool: c})
	require.Equal(t, []EffectKind{EffGrantPermit, EffCancelSteal}, kinds)
	assert.Equal(t, b, effs[0].Pool)
	assert.Equal(t, a, effs[1].Pool, "a's steal, needed by no one now, is called off")
	assert.Zero(t, m.book.stealsOut)

	// Called off, a's steal is settled: a's next permit back frees room.
	kinds, _ = step(m, PermitReturn{Pool: a})
	assert.Empty(t, kinds)
	inUse, waiting := m.Permits()
	assert.Equal(t, 1, inUse)
	assert.Zero(t, waiting)
}
