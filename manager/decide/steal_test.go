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

// The permit a steal frees goes to the head of the queue. The pool at the
// head is never the one asked: it would close a connection to be handed
// the permit back and dial a new one. Before, a request queued behind the
// head asked the richest pool other than its own, which could be the
// head's.
func TestStealNeverAsksThePoolAtTheHeadOfTheQueue(t *testing.T) {
	m, ids := pools(t, 3, "a", "b", "x")
	a, b, x := ids[0], ids[1], ids[2]
	step(m, PermitRequest{Pool: a})
	step(m, PermitRequest{Pool: a})
	step(m, PermitRequest{Pool: x})
	kinds, effs := step(m, PermitRequest{Pool: a})
	require.Equal(t, []EffectKind{EffSteal}, kinds)
	require.Equal(t, x, effs[0].Pool, "a's third request asks x, the richest other than a")

	kinds, effs = step(m, PermitRequest{Pool: b})
	require.Equal(t, []EffectKind{EffSteal}, kinds, "b's request needs a steal of its own")
	assert.NotEqual(t, a, effs[0].Pool, "a is at the head: the permit it freed would go back to a")
	assert.Equal(t, x, effs[0].Pool)

	// With no one but the head to ask, nothing is asked.
	kinds, _ = step(m, StealRefused{Pool: x})
	assert.Empty(t, kinds, "x refused; a is at the head: no one to ask")
	// x pays the steal still out: a is served, and b's request now asks a.
	kinds, effs = step(m, PermitReturn{Pool: x})
	require.Equal(t, []EffectKind{EffGrantPermit, EffSteal}, kinds)
	assert.Equal(t, a, effs[0].Pool)
	assert.Equal(t, a, effs[1].Pool, "b at the head now: a, the richest, is asked")
}

// The book knows permits held, not idle connections: the richest pool is
// asked even if all its connections are leased (it pays with the next one
// released, actors.Pool.stealIdle) while a poorer pool has one idle. This is
// the documented choice (docs/DESIGN.md: "idle now or the next released");
// preferring idle connections would need the pool to be told whether it may
// owe one (a field of StealIdle), which this book cannot express.
func TestStealAsksTheRichestWhateverItHoldsIdle(t *testing.T) {
	m, ids := pools(t, 3, "a", "b", "c")
	a, b, c := ids[0], ids[1], ids[2]
	step(m, PermitRequest{Pool: c}) // c's one connection, idle say
	step(m, PermitRequest{Pool: a})
	step(m, PermitRequest{Pool: a}) // a's two, leased say
	_, effs := step(m, PermitRequest{Pool: b})
	require.Equal(t, EffSteal, effs[0].Kind)
	assert.Equal(t, a, effs[0].Pool, "the richest is asked")
	// Only a refusal (a pool with nothing left to promise) sends the next ask
	// to c.
	_, effs = step(m, StealRefused{Pool: a})
	require.Equal(t, EffSteal, effs[0].Kind)
	assert.Equal(t, c, effs[0].Pool)
}

// A pool asked for a steal whose own request then reaches the head of the
// queue would be handed back the permit it freed: its steal is called off,
// and another pool asked instead.
func TestStealOutAtThePoolThatBecomesTheHeadIsAskedElsewhere(t *testing.T) {
	m, ids := pools(t, 2, "p", "q", "a")
	p, q, a := ids[0], ids[1], ids[2]
	step(m, PermitRequest{Pool: p})
	step(m, PermitRequest{Pool: q})
	_, effs := step(m, PermitRequest{Pool: a})
	require.Equal(t, p, effs[0].Pool, "a's request asks p, the oldest of the richest")
	_, effs = step(m, PermitRequest{Pool: p})
	require.Equal(t, []Effect{{Kind: EffSteal, Pool: q}}, effs, "p's own request, behind a's, asks q")

	// q pays: a is served, and p's request is at the head, with p's steal
	// still out.
	kinds, effs := step(m, PermitReturn{Pool: q})
	require.Equal(t, []EffectKind{EffGrantPermit, EffCancelSteal, EffSteal}, kinds)
	assert.Equal(t, a, effs[0].Pool)
	assert.Equal(t, p, effs[1].Pool, "p's steal is called off: its permit would go back to p")
	assert.Equal(t, a, effs[2].Pool, "a, now the richest other than p, is asked")
	assert.Equal(t, 1, m.book.stealsOut)
}
