package manager

import (
	"context"
	"database/sql/driver"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// statsWhen returns the first snapshot of m's stats for which cond holds.
// The manager asks each pool for its snapshot after every message it sent
// that pool before (a StealIdle, a StealCancelled), so a snapshot shows
// what those did.
func statsWhen(t *testing.T, m *Manager, cond func(Stats) bool, msg string) Stats {
	t.Helper()
	var s Stats
	eventually(t, func() bool { s = m.Stats(); return cond(s) }, msg)
	return s
}

func poolStats(t *testing.T, s Stats, name string) PoolStats {
	t.Helper()
	p, ok := poolOfIdentity(s, name)
	require.True(t, ok, "no pool for %s", name)
	return p
}

// TestMaxTotalStealCalledOffWhenAnotherPermitServesItsRequest: a permit
// that comes back for a reason of its own serves the request a steal was
// out for, and that steal is called off. Before, it stayed out: bob's
// request was served by carol's broken connection, and alice, asked for
// bob, closed her connection ("stolen") for nobody when she released it.
func TestMaxTotalStealCalledOffWhenAnotherPermitServesItsRequest(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 2, MaxTotal: 2, HealthCheckAfter: -1})
	peak := watchOpen(t, db)
	a1 := acquire(t, m, identity("alice"))
	c1 := acquire(t, m, identity("carol"))

	bobs := acquireLater(t, m, context.Background(), "bob")
	statsWhen(t, m, func(s Stats) bool { a, ok := poolOfIdentity(s, "alice"); return ok && a.Owed == 1 },
		"bob queued, and alice, the oldest of the richest, owes him a connection")

	c1.Release(driver.ErrBadConn) // carol's connection closes: its permit serves bob
	b1 := <-bobs
	require.NotNil(t, b1, "bob's acquire failed")
	b1.Release(nil)
	s := m.Stats() // after the cancel the manager sent alice with bob's grant
	assert.Zero(t, poolStats(t, s, "alice").Owed, "alice's debt is called off")

	a1.Release(nil)
	s = statsWhen(t, m, func(s Stats) bool { return s.Total.Busy == 0 && s.Total.ClosingConns == 0 }, "every lease back")
	assert.Equal(t, 1, poolStats(t, s, "alice").Idle, "alice keeps her connection")
	assert.Zero(t, s.Total.Closes["stolen"], "nothing stolen for nobody: %v", s.Total.Closes)
	assert.Equal(t, 2, s.PermitsInUse, "alice's and bob's connections")
	assert.LessOrEqual(t, peak(), 2, "the server never saw more sessions than MaxTotal")
}
