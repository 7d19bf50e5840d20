package manager

import (
	"context"
	"database/sql/driver"
	"sync/atomic"
	"testing"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/sim/memdb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// heldClosesDialer dials memdb connections whose Close, while hold is set,
// waits until free closes: a close in flight the test controls.
type heldClosesDialer struct {
	db   *memdb.DB
	hold atomic.Bool
	free chan struct{}
}

type heldCloseConn struct {
	*memdb.Conn
	d *heldClosesDialer
}

func (d *heldClosesDialer) Dial(ctx context.Context, req actors.DialRequest) (driver.Conn, error) {
	c, err := d.db.Dial(ctx, req)
	if err != nil {
		return nil, err
	}
	return heldCloseConn{c.(*memdb.Conn), d}, nil
}

func (c heldCloseConn) Close() error {
	if c.d.hold.Load() {
		<-c.d.free
	}
	return c.Conn.Close()
}

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
	alice, bob, carol := identity("alice"), identity("bob"), identity("carol")
	a1 := acquire(t, m, alice)
	c1 := acquire(t, m, carol)

	bobs := make(chan *Lease, 1)
	go func() {
		l, err := m.Acquire(context.Background(), bob)
		assert.NoError(t, err)
		bobs <- l
	}()
	statsWhen(t, m, func(s Stats) bool { a, ok := poolOfIdentity(s, "alice"); return ok && a.Owed == 1 },
		"bob queued, and alice, the oldest of the richest, owes him a connection")

	c1.Release(driver.ErrBadConn) // carol's connection closes: its permit serves bob
	b1 := <-bobs
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

// TestMaxTotalNeverStealsFromThePoolAtTheHeadOfTheQueue: the permit a steal
// frees goes to the request at the head of the queue, so its pool is never
// the one asked. Before, bob's request, queued behind alice's, asked alice
// (the richest but for bob): alice closed the connection she released
// ("stolen") instead of handing it to her own waiter, was handed its permit
// back and dialled a new one.
func TestMaxTotalNeverStealsFromThePoolAtTheHeadOfTheQueue(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 3, MaxTotal: 3, HealthCheckAfter: -1})
	peak := watchOpen(t, db)
	alice, xavier := identity("alice"), identity("xavier")
	a1, a2 := acquire(t, m, alice), acquire(t, m, alice)
	x1 := acquire(t, m, xavier)

	leases := make(chan *Lease, 2)
	acquireAsync := func(id string) {
		go func() {
			l, err := m.Acquire(context.Background(), identity(id))
			assert.NoError(t, err)
			leases <- l
		}()
	}
	acquireAsync("alice")
	statsWhen(t, m, func(s Stats) bool { x, ok := poolOfIdentity(s, "xavier"); return ok && x.Owed == 1 },
		"alice's third request queued at the head, and xavier asked for it")
	acquireAsync("bob")
	s := statsWhen(t, m, func(s Stats) bool { return s.PermitWaiters == 2 }, "bob's request queued behind alice's")
	assert.Zero(t, poolStats(t, s, "alice").Owed, "alice, at the head, is not asked to give a connection up")

	a1.Release(nil) // serves alice's waiter
	a3 := <-leases
	x1.Release(nil) // pays xavier's debt: bob's connection
	b1 := <-leases
	for _, l := range []*Lease{a2, a3, b1} {
		l.Release(nil)
	}
	s = statsWhen(t, m, func(s Stats) bool { return s.Total.Busy == 0 && s.Total.ClosingConns == 0 }, "every lease back")
	assert.EqualValues(t, 1, s.Total.Closes["stolen"], "one steal, xavier's, for bob: %v", s.Total.Closes)
	assert.EqualValues(t, 2, poolStats(t, s, "alice").Opens, "alice dialled no connection in place of the one she gave up")
	assert.Equal(t, 3, s.PermitsInUse)
	assert.LessOrEqual(t, peak(), 3, "the server never saw more sessions than MaxTotal")
}

// TestMaxTotalStealPaidByACloseInFlight: a steal that reaches a pool with a
// close in flight is paid by that close, as the manager counts it paid by
// the first permit back from that pool. Before, alice also closed an idle
// connection ("stolen") for it: two permits came back for one steal, and
// the second served no one.
func TestMaxTotalStealPaidByACloseInFlight(t *testing.T) {
	db := memdb.New()
	d := &heldClosesDialer{db: db, free: make(chan struct{})}
	m, _ := newManager(t, Config{MaxSize: 3, MaxTotal: 3, HealthCheckAfter: -1, Dialer: d})
	peak := watchOpen(t, db)
	alice, bob := identity("alice"), identity("bob")
	a1, a2, a3 := acquire(t, m, alice), acquire(t, m, alice), acquire(t, m, alice)
	a1.Release(nil)
	a2.Release(nil)

	d.hold.Store(true)
	a3.Release(driver.ErrBadConn) // its close is held in flight
	statsWhen(t, m, func(s Stats) bool { return poolStats(t, s, "alice").ClosingConns == 1 }, "alice's close in flight")

	bobs := make(chan *Lease, 1)
	go func() {
		l, err := m.Acquire(context.Background(), bob)
		assert.NoError(t, err)
		bobs <- l
	}()
	s := statsWhen(t, m, func(s Stats) bool { return s.PermitWaiters == 1 }, "bob queued; alice asked")
	a := poolStats(t, s, "alice")
	assert.Equal(t, 1, a.Owed, "alice owes bob a connection")
	assert.Zero(t, a.Closes["stolen"], "the close in flight pays it: nothing more is closed")
	assert.Equal(t, 2, a.Idle)

	d.hold.Store(false)
	close(d.free)
	b := <-bobs
	b.Release(nil)
	s = statsWhen(t, m, func(s Stats) bool { return s.Total.Busy == 0 && s.Total.ClosingConns == 0 }, "every lease back")
	a = poolStats(t, s, "alice")
	assert.Zero(t, a.Owed)
	assert.Equal(t, 2, a.Idle, "alice keeps her two idle connections")
	assert.Zero(t, s.Total.Closes["stolen"], "nothing stolen for nobody: %v", s.Total.Closes)
	assert.Equal(t, 3, s.PermitsInUse)
	assert.LessOrEqual(t, peak(), 3, "the server never saw more sessions than MaxTotal")
}

// TestMaxTotalStealOutAtThePoolThatReachesTheHeadIsCalledOff: peter, asked
// to give a connection up for alice, queued a request of his own behind
// hers. Once alice is served, peter's request is at the head: the permit
// his steal would free would come back to him. It is called off (and alice,
// now the richest other pool, asked instead, until peter's own release
// serves his waiter). Before, peter closed the connection he released
// ("stolen") and dialled a new one for his own waiter.
func TestMaxTotalStealOutAtThePoolThatReachesTheHeadIsCalledOff(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 2, MaxTotal: 2, HealthCheckAfter: -1})
	peak := watchOpen(t, db)
	peter, quinn := identity("peter"), identity("quinn")
	p1 := acquire(t, m, peter)
	q1 := acquire(t, m, quinn)

	leases := make(chan *Lease, 2)
	acquireAsync := func(id string) {
		go func() {
			l, err := m.Acquire(context.Background(), identity(id))
			assert.NoError(t, err)
			leases <- l
		}()
	}
	acquireAsync("alice")
	statsWhen(t, m, func(s Stats) bool { p, ok := poolOfIdentity(s, "peter"); return ok && p.Owed == 1 },
		"alice queued, and peter, the oldest of the richest, asked")
	acquireAsync("peter")
	statsWhen(t, m, func(s Stats) bool { q, ok := poolOfIdentity(s, "quinn"); return ok && q.Owed == 1 },
		"peter's request queued behind alice's, and quinn asked")

	q1.Release(nil) // pays quinn's steal: alice is served
	a1 := <-leases
	s := m.Stats() // after what the manager sent peter with alice's grant
	assert.Zero(t, poolStats(t, s, "peter").Owed, "peter, now at the head, is not asked any more")

	p1.Release(nil) // serves peter's waiter
	p2 := <-leases
	statsWhen(t, m, func(s Stats) bool { return s.PermitWaiters == 0 && s.Total.Owed == 0 },
		"peter's request withdrawn, and the steal asked of alice for it called off")
	for _, l := range []*Lease{a1, p2} {
		l.Release(nil)
	}
	s = statsWhen(t, m, func(s Stats) bool { return s.Total.Busy == 0 && s.Total.ClosingConns == 0 }, "every lease back")
	assert.EqualValues(t, 1, s.Total.Closes["stolen"], "one steal, quinn's, for alice: %v", s.Total.Closes)
	assert.EqualValues(t, 1, poolStats(t, s, "peter").Opens, "peter dialled no connection in place of the one he gave up")
	assert.Equal(t, 2, s.PermitsInUse)
	assert.LessOrEqual(t, peak(), 2, "the server never saw more sessions than MaxTotal")
}
