package decide

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A pool that refused a steal is spared only until the next grant: its
// refusal said it had nothing to give then, not for ever. Kept as refused,
// the richest pool would never be asked again, and the poorer ones would
// pay for every request after its first refusal.
func TestARefusalIsForgottenAtTheNextGrant(t *testing.T) {
	m, ids := pools(t, 3, "a", "b", "c")
	a, b, c := ids[0], ids[1], ids[2]
	step(m, PermitRequest{Pool: a})
	step(m, PermitRequest{Pool: a})
	step(m, PermitRequest{Pool: b})
	_, effs := step(m, PermitRequest{Pool: c})
	require.Equal(t, []Effect{{Kind: EffSteal, Pool: a}}, effs)
	_, effs = step(m, StealRefused{Pool: a})
	require.Equal(t, []Effect{{Kind: EffSteal, Pool: b}}, effs, "a refused: b is asked")
	kinds, effs := step(m, PermitReturn{Pool: b})
	require.Equal(t, []EffectKind{EffGrantPermit}, kinds)
	require.Equal(t, c, effs[0].Pool)

	// a still holds the most (2, c 1): b's request asks a again.
	_, effs = step(m, PermitRequest{Pool: b})
	assert.Equal(t, []Effect{{Kind: EffSteal, Pool: a}}, effs, "the grant since a's refusal makes a a candidate again")
}

// Surplus steals are called off where most are owed: a pool asked for
// two connections is spared closing one for nobody before a pool asked for
// one.
func TestASurplusStealIsCalledOffAtThePoolOwingTheMost(t *testing.T) {
	m, ids := pools(t, 3, "a", "b", "c")
	a, b, c := ids[0], ids[1], ids[2]
	step(m, PermitRequest{Pool: a})
	step(m, PermitRequest{Pool: a})
	step(m, PermitRequest{Pool: b})
	step(m, PermitRequest{Pool: c}) // a asked
	step(m, PermitRequest{Pool: c}) // a asked again
	_, effs := step(m, StealRefused{Pool: a})
	require.Equal(t, []Effect{{Kind: EffSteal, Pool: b}}, effs)
	_, effs = step(m, PermitRequest{Pool: c})
	require.Equal(t, []Effect{{Kind: EffSteal, Pool: b}}, effs, "a refused since the last grant: b again")
	require.Equal(t, map[PoolID]int{a: 1, b: 2}, m.book.unsettled)

	kinds, effs := step(m, WithdrawPermit{Pool: c})
	require.Equal(t, []EffectKind{EffPermitWithdrawn, EffCancelSteal}, kinds)
	assert.Equal(t, b, effs[1].Pool, "b owes two, a one: b's is called off")
	assert.Equal(t, map[PoolID]int{a: 1, b: 1}, m.book.unsettled)
}
