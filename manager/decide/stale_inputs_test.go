package decide

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// retiredA returns a manager whose first pool for "a" has retired (it is
// closing) and whose second is live, with their ids.
func retiredA(t *testing.T) (m *Manager, old, fresh PoolID) {
	t.Helper()
	m = New(Config{Server: "srv"})
	_, effs := step(m, Acquire{Disc: "a"})
	old = effs[0].Pool
	step(m, RetireRequest{Pool: old, Seen: 1})
	kinds, _ := step(m, RouteClosed{Pool: old, Sent: 1})
	require.Equal(t, []EffectKind{EffWithdraw, EffClosePool}, kinds)
	_, effs = step(m, Acquire{Disc: "a"})
	return m, old, effs[0].Pool
}

// A retirement input that is not about a live pool's own retirement is
// ignored: a RetireRequest from a pool already closing, a RouteClosed for
// a pool whose route was not closed for one. Taken, either would retire
// the identity's live pool (or count one retirement twice).
func TestRetirementInputsForOtherPoolsAreIgnored(t *testing.T) {
	m, old, fresh := retiredA(t)
	kinds, _ := step(m, RetireRequest{Pool: old, Seen: 1})
	assert.Empty(t, kinds, "the retired pool is closing already")
	kinds, _ = step(m, RouteClosed{Pool: old, Sent: 1})
	assert.Empty(t, kinds)
	kinds, _ = step(m, RouteClosed{Pool: fresh, Sent: 0})
	assert.Empty(t, kinds, "the live pool asked for no retirement")

	got, ok := m.Pool("a")
	require.True(t, ok)
	assert.Equal(t, fresh, got)
	assert.EqualValues(t, 1, m.Retired())
	assert.Equal(t, 1, m.Draining())
}

// A retired pool is stopped once drained even when sent is above seen
// there: only a caller passing by (it counted itself, then saw the route
// closed and went to the manager) can make it so. Left alive, it was never
// stopped.
func TestARetiredPoolIsStoppedEvenWithACallerPassingBy(t *testing.T) {
	m, old, _ := retiredA(t)
	kinds, effs := step(m, Drained{Pool: old, Seen: 1, Sent: 2})
	require.Equal(t, []EffectKind{EffStop}, kinds)
	assert.Equal(t, old, effs[0].Pool)
	assert.Zero(t, m.Draining())
}

// A drained pool is forgotten: it is no longer listed among the undrained
// or its identity's pools.
func TestADrainedPoolIsNoLongerListed(t *testing.T) {
	m, old, fresh := retiredA(t)
	require.Equal(t, []PoolID{old, fresh}, m.PoolsOf("a"))
	step(m, Drained{Pool: old, Seen: 1, Sent: 1})
	assert.Equal(t, []PoolID{fresh}, m.PoolsOf("a"))
	assert.Equal(t, []PoolID{fresh}, m.Undrained())
	kinds, _ := step(m, Close{})
	assert.Equal(t, []EffectKind{EffWithdraw, EffClosePool}, kinds, "only the live pool is closed")
	kinds, _ = step(m, ForceClose{})
	assert.Equal(t, []EffectKind{EffForceClose}, kinds, "nor forced")
}

// PoolsOf lists one identity's pools, never another's (Evict goes to each).
func TestPoolsOfListsOnlyThatIdentitysPools(t *testing.T) {
	m, old, fresh := retiredA(t)
	_, effs := step(m, Acquire{Disc: "b"})
	b := effs[0].Pool
	assert.Equal(t, []PoolID{old, fresh}, m.PoolsOf("a"))
	assert.Equal(t, []PoolID{b}, m.PoolsOf("b"))
	assert.Empty(t, m.PoolsOf("c"))
	assert.Equal(t, []PoolID{old, fresh, b}, m.Undrained())
}

// A pool that drains without being told to is forgotten: the identity's
// next acquire spawns a fresh pool (not one forwarded to the stopped one),
// and Close still waits for every pool it closes.
func TestAPoolDrainedWithoutBeingToldIsForgotten(t *testing.T) {
	m := New(Config{Server: "srv"})
	_, effs := step(m, Acquire{Disc: "a"})
	a := effs[0].Pool
	kinds, _ := step(m, Drained{Pool: a, Seen: 1, Sent: 1})
	require.Equal(t, []EffectKind{EffStop}, kinds)
	assert.Zero(t, m.Pools())
	assert.Zero(t, m.Draining())

	kinds, effs = step(m, Acquire{Disc: "a"})
	require.Equal(t, []EffectKind{EffSpawn, EffPublish, EffForward}, kinds, "a fresh pool for the identity")
	a2 := effs[0].Pool
	assert.NotEqual(t, a, a2)

	kinds, _ = step(m, Close{})
	assert.Equal(t, []EffectKind{EffWithdraw, EffClosePool}, kinds, "not closed before the fresh pool drains")
	kinds, _ = step(m, Drained{Pool: a2, Seen: 1, Sent: 1})
	assert.Equal(t, []EffectKind{EffStop, EffClosed}, kinds)
}

// Close forgets the live pools: Pools (ManagerStats.Pools) counts none
// after it, and no identity has a pool.
func TestCloseLeavesNoLivePool(t *testing.T) {
	m := New(Config{Server: "srv"})
	step(m, Acquire{Disc: "a"})
	step(m, Acquire{Disc: "b"})
	require.Equal(t, 2, m.Pools())
	step(m, Close{})
	assert.Zero(t, m.Pools())
	_, ok := m.Pool("a")
	assert.False(t, ok)
	assert.Empty(t, m.Live())
	assert.Equal(t, 2, m.Draining())
}

// EffClosed comes once: a Drained arriving after it (a pool's report
// repeated, or from a pool already forgotten) does not emit it again, which
// would close the manager's done channel twice.
func TestClosedIsEmittedOnceEvenAfterAStaleDrained(t *testing.T) {
	m := New(Config{Server: "srv"})
	_, effs := step(m, Acquire{Disc: "a"})
	a := effs[0].Pool
	step(m, Close{})
	kinds, _ := step(m, Drained{Pool: a, Seen: 1, Sent: 1})
	require.Equal(t, []EffectKind{EffStop, EffClosed}, kinds)
	kinds, _ = step(m, Drained{Pool: a, Seen: 1, Sent: 1})
	assert.NotContains(t, kinds, EffClosed)
	kinds, _ = step(m, Close{})
	assert.Empty(t, kinds)
}
