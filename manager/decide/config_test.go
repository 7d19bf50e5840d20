package decide

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/tokens"
)

// Each pool's key names its own identity: a key shared between identities
// would share their tokens.
func TestEachPoolsKeyNamesItsOwnIdentity(t *testing.T) {
	m := New(Config{Server: "srv"})
	_, a := step(m, Acquire{Disc: "a"})
	_, b := step(m, Acquire{Disc: "b"})
	assert.Equal(t, tokens.NewKey("srv", "a"), a[0].Config.Key)
	assert.Equal(t, tokens.NewKey("srv", "b"), b[0].Config.Key)
	assert.False(t, a[0].Config.NeedsPermit, "no MaxTotal: no permits")
}

// Advance lets go of the effects carried out: the slice kept for the next
// Step holds no pool configuration (with its credentials' sources) alive.
func TestAdvanceLetsGoOfTheEffects(t *testing.T) {
	m := New(Config{Server: "srv"})
	step(m, Acquire{Disc: "a"})
	require.NotZero(t, cap(m.out))
	for _, e := range m.out[:cap(m.out)] {
		assert.Equal(t, Effect{}, e)
	}
}
