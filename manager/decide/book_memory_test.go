package decide

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The permit book keeps an entry only for a pool that holds a permit or owes
// a steal: with thousands of identities coming and going, entries left at
// zero would grow the book for ever.
func TestThePermitBookForgetsPoolsThatHoldAndOweNothing(t *testing.T) {
	m, ids := pools(t, 2, "a", "b", "c")
	a, b, c := ids[0], ids[1], ids[2]
	step(m, PermitRequest{Pool: a})
	step(m, PermitRequest{Pool: a})
	step(m, PermitRequest{Pool: b}) // a asked
	step(m, PermitRequest{Pool: c}) // a asked again
	require.Equal(t, map[PoolID]int{a: 2}, m.book.unsettled)

	kinds, _ := step(m, PermitReturn{Pool: a}) // pays one: b served
	require.Equal(t, []EffectKind{EffGrantPermit}, kinds)
	kinds, _ = step(m, PermitReturn{Pool: a}) // pays the other: c served
	require.Equal(t, []EffectKind{EffGrantPermit}, kinds)
	assert.Empty(t, m.book.unsettled, "a owes nothing now")
	assert.NotContains(t, m.book.held, a, "a holds nothing now")

	step(m, PermitReturn{Pool: b})
	step(m, PermitReturn{Pool: c})
	assert.Empty(t, m.book.held)
	assert.Zero(t, m.book.stealsOut)
}
