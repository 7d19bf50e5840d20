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

// TestARequestBehindTheHeadAsksThePoolThatHoldsEverything: a holds every
// permit and, under steady load, keeps a request of its own queued at the
// head (its released connections serve its own waiters, so it never
// withdraws it). b's request, behind it, asks a: were the head's pool
// spared, b's request would wait with no steal out for as long as a stays
// busy (a review found exactly that in a version that spared it).
func TestARequestBehindTheHeadAsksThePoolThatHoldsEverything(t *testing.T) {
	m, ids := pools(t, 2, "a", "b")
	a, b := ids[0], ids[1]
	step(m, PermitRequest{Pool: a})
	step(m, PermitRequest{Pool: a})
	kinds, _ := step(m, PermitRequest{Pool: a}) // a's third waiter: queued, no one to ask
	require.Empty(t, kinds)
	_, effs := step(m, PermitRequest{Pool: b})
	require.Equal(t, []Effect{{Kind: EffSteal, Pool: a}}, effs)
	assert.Equal(t, 1, m.book.stealsOut)
}

// TestStealsFallOnTheRichestPoolEvenAtTheHead: a holds 8 of 10 permits and
// keeps a request queued at the head, c holds 2. b's request asks a, the
// richest, not c a second time: taking from the largest keeps the small
// identities from being squeezed out.
func TestStealsFallOnTheRichestPoolEvenAtTheHead(t *testing.T) {
	m, ids := pools(t, 10, "a", "b", "c")
	a, b, c := ids[0], ids[1], ids[2]
	for range 8 {
		step(m, PermitRequest{Pool: a})
	}
	step(m, PermitRequest{Pool: c})
	step(m, PermitRequest{Pool: c})
	_, effs := step(m, PermitRequest{Pool: a}) // a's request queued at the head
	require.Equal(t, []Effect{{Kind: EffSteal, Pool: c}}, effs)
	_, effs = step(m, PermitRequest{Pool: b})
	require.NotEmpty(t, effs)
	assert.Equal(t, a, effs[len(effs)-1].Pool, "b's request takes one of a's 8, not c's second")
}
