package manager

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/idpool/idpool/manager/decide"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRetiredPoolNamesAreNeverReused: pools are registered under names made
// from their ids, and a retired pool's name never names another pool, so a
// late message sent to a retired pool's PID (protoactor re-resolves it by
// name) reaches no other identity's pool.
func TestRetiredPoolNamesAreNeverReused(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 1, PoolIdleTimeout: 10 * time.Millisecond, HealthCheckAfter: -1})
	seen := map[string]bool{}
	var old []*actor.PID
	for round := range 3 {
		for _, name := range []string{"alice", "bob"} {
			l := acquire(t, m, identity(name))
			require.False(t, seen[l.pool.Id], "round %d: %s got the name %q of an earlier pool", round, name, l.pool.Id)
			seen[l.pool.Id] = true
			old = append(old, l.pool)
			l.Release(nil)
		}
		eventually(t, func() bool { return m.Stats().Pools == 0 }, "round %d: pools retired", round)
	}
	// A retired pool leaves the registry when its actor has handled the
	// Poison the manager sent, a moment after Stats stops counting it.
	for _, pid := range old {
		eventually(t, func() bool {
			_, ok := m.system.ProcessRegistry.Get(m.system.NewLocalPID(pid.Id))
			return !ok
		}, "%s still resolves", pid.Id)
		p, _ := m.system.ProcessRegistry.Get(m.system.NewLocalPID(pid.Id))
		assert.Same(t, m.system.DeadLetter, p, "%s resolves to the dead letters", pid.Id)
	}
}

// TestPoolOfNamesOnlyLivePools: the manager takes a PID for one of its
// live pools only if it names one; anything else is no pool.
func TestPoolOfNamesOnlyLivePools(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 1})
	l := acquire(t, m, identity("alice"))
	defer l.Release(nil)
	live := l.pool
	for _, id := range []string{"", "pool-", "pool-x", "pool-1x", "pool--1", "pool-01", "pool-+1", "pool-18446744073709551616", "$1", "idpool-manager", "1"} {
		t.Run(id, func(t *testing.T) {
			probe := &managerActor{entries: map[decide.PoolID]*poolEntry{1: {}}}
			_, ok := probe.poolOf(m.system.NewLocalPID(id))
			assert.False(t, ok)
		})
	}
	probe := &managerActor{entries: map[decide.PoolID]*poolEntry{1: {}}}
	id, ok := probe.poolOf(m.system.NewLocalPID(poolName(1)))
	assert.True(t, ok)
	assert.EqualValues(t, 1, id)
	_, ok = probe.poolOf(m.system.NewLocalPID(poolName(2)))
	assert.False(t, ok, "a pool not (or no longer) spawned")
	_, ok = probe.poolOf(nil)
	assert.False(t, ok)
	assert.Equal(t, poolName(1), live.Id, "the first pool's name")
}
