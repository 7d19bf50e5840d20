package shrink

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestMapCopiesOnlyOnceManyDeletionsPiledUp: a map stays itself while few
// deletions are counted, and is replaced by an equal copy once they reach
// the threshold and twice its length; the count starts again.
func TestMapCopiesOnlyOnceManyDeletionsPiledUp(t *testing.T) {
	m := map[int]int{}
	for i := range minDeletes + 10 {
		m[i] = i
	}
	deletes := 0
	for i := range minDeletes - 1 {
		delete(m, i)
		next := Map(m, &deletes)
		assert.Equal(t, len(m), len(next))
		m[-1] = -1 // a write to next must show in m: the same map
		assert.Equal(t, -1, next[-1], "deletion %d: still the same map", i+1)
		delete(m, -1)
	}
	delete(m, minDeletes-1)
	next := Map(m, &deletes)
	assert.Equal(t, m, next, "same contents")
	next[-2] = -2
	_, inOld := m[-2]
	assert.False(t, inOld, "a new map once the deletions reached the threshold and twice the length")
	assert.Zero(t, deletes, "the count starts again")
}
