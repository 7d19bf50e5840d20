package manager

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// acquireLater starts an acquire of name in the background and returns where its
// lease will come.
func acquireLater(t *testing.T, m *Manager, ctx context.Context, name string) chan *Lease {
	t.Helper()
	got := make(chan *Lease, 1)
	go func() {
		l, err := m.Acquire(ctx, identity(name))
		if err != nil {
			got <- nil
			return
		}
		got <- l
	}()
	return got
}

// TestFleetGateWithdrawalCallsOffTheStealItSettles: a request waiting at the
// fleet gate is withdrawn (its waiter gave up), and the gate hands its local
// permit back to the book on the pool's behalf. The book counts that
// permit, as any from the pool, as paying the steal it had asked of the
// pool (for bob, whom the permit then serves); the pool, which handed
// nothing back, must be told the steal is called off. Before, alice kept
// owing and closed her connection "stolen" on release, for nobody.
func TestFleetGateWithdrawalCallsOffTheStealItSettles(t *testing.T) {
	fb := &fakeBudget{avail: 1}
	m, db := newManager(t, Config{MaxSize: 5, MaxTotal: 2, Fleet: fb, HealthCheckAfter: -1, IdleTimeout: -1})
	peak := watchOpen(t, db)
	a1 := acquire(t, m, identity("alice"))

	ctx := newManualDeadline()
	alice2 := acquireLater(t, m, ctx, "alice")
	eventually(t, func() bool { _, _, w := fb.state(); return w == 1 }, "alice's second dial waits at the gate, with a local permit")
	bobs := acquireLater(t, m, context.Background(), "bob")
	s := statsWhen(t, m, func(s Stats) bool { return s.PermitWaiters == 1 && poolStats(t, s, "alice").Owed == 1 },
		"bob queued at MaxTotal; alice asked to give a connection up")
	require.Equal(t, 2, s.PermitsInUse)

	ctx.pass() // alice's second waiter gives up: the gate withdraws its request
	require.Nil(t, <-alice2)
	s = statsWhen(t, m, func(s Stats) bool {
		_, _, w := fb.state()
		return s.PermitWaiters == 0 && poolStats(t, s, "alice").AwaitingPermit == 0 && w == 1
	}, "alice's local permit went to bob, who waits at the gate")
	assert.Zero(t, poolStats(t, s, "alice").Owed, "the permit handed back for alice paid her steal")

	fb.add(1)
	b := <-bobs
	require.NotNil(t, b)
	a1.Release(nil)
	s = statsWhen(t, m, func(s Stats) bool { return s.Total.Busy == 1 && s.Total.ClosingConns == 0 }, "alice's lease back")
	assert.Zero(t, s.Total.Closes["stolen"], "nothing closed for nobody: %v", s.Total.Closes)
	assert.Equal(t, 1, poolStats(t, s, "alice").Idle, "alice keeps her connection")
	b.Release(nil)
	assert.LessOrEqual(t, peak(), 2, "never more sessions than MaxTotal and the fleet's permits")
}

// TestFleetGateStealAndBookStealArePaidOnePermitEach: alice is asked for a
// connection by the gate (carol waits for a fleet permit) and by the book
// (bob waits for a local one): she owes two. Her first close frees one
// local and one fleet permit: bob gets the local one and goes on to wait
// at the gate, carol the fleet one. One permit back pays one steal: alice
// still owes one, for bob's fleet permit. Before, the book and the gate
// both counted theirs paid, the gate asked again at the next Full, and
// alice closed a third connection for nobody.
func TestFleetGateStealAndBookStealArePaidOnePermitEach(t *testing.T) {
	fb := &fakeBudget{avail: 3}
	m, db := newManager(t, Config{MaxSize: 5, MaxTotal: 4, Fleet: fb, HealthCheckAfter: -1, IdleTimeout: -1})
	peak := watchOpen(t, db)
	alice := identity("alice")
	a := []*Lease{acquire(t, m, alice), acquire(t, m, alice), acquire(t, m, alice)}

	carols := acquireLater(t, m, context.Background(), "carol")
	eventually(t, func() bool { _, _, w := fb.state(); return w == 1 }, "carol waits at the gate")
	fb.signal(BudgetSignal{Full: true}) // the gate asks alice
	bobs := acquireLater(t, m, context.Background(), "bob")
	statsWhen(t, m, func(s Stats) bool { return s.PermitWaiters == 1 && poolStats(t, s, "alice").Owed == 2 },
		"bob queued at MaxTotal; alice owes the gate and the book")

	a[0].Release(nil)
	c := <-carols
	require.NotNil(t, c)
	eventually(t, func() bool { _, _, w := fb.state(); return w == 1 && m.Stats().PermitWaiters == 0 }, "bob waits at the gate")
	fb.signal(BudgetSignal{Full: true})
	s := m.Stats() // after the signal
	assert.Equal(t, 1, poolStats(t, s, "alice").Owed, "alice owes bob's fleet permit, and is asked nothing more")

	a[1].Release(nil)
	b := <-bobs
	require.NotNil(t, b)
	a[2].Release(nil)
	s = statsWhen(t, m, func(s Stats) bool { return s.Total.Busy == 2 && s.Total.ClosingConns == 0 }, "alice's leases back")
	assert.EqualValues(t, 2, s.Total.Closes["stolen"], "one for carol, one for bob: %v", s.Total.Closes)
	assert.Equal(t, 1, poolStats(t, s, "alice").Idle, "alice keeps her third connection")
	assert.Zero(t, poolStats(t, s, "alice").Owed)
	b.Release(nil)
	c.Release(nil)
	assert.LessOrEqual(t, peak(), 3, "never more sessions than the fleet's permits")
}
