package manager

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// poolOfIdentity returns the snapshot of the pool of test identity name.
func poolOfIdentity(s Stats, name string) (PoolStats, bool) {
	for _, p := range s.PerPool {
		if p.Discriminator == "test:"+name {
			return p, true
		}
	}
	return PoolStats{}, false
}

// TestMaxTotalTimedOutWaitersWithdrawTheirPermitRequests: under MaxTotal, a
// pool whose waiters all time out withdraws the permit requests it queued
// for them, and the steals the manager sent on their behalf are called off.
// Before, bob's pool kept 3 requests queued and alice owed 3 connections:
// when alice released her leases, all 3 of her connections were closed
// ("stolen") for nobody, and bob's pool got 3 permits it no longer wanted.
func TestMaxTotalTimedOutWaitersWithdrawTheirPermitRequests(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 3, MaxTotal: 3, HealthCheckAfter: -1})
	peak := watchOpen(t, db)
	alice, bob := identity("alice"), identity("bob")
	var as []*Lease
	for range 3 {
		as = append(as, acquire(t, m, alice))
	}

	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			l, err := m.Acquire(ctx, bob)
			if err == nil {
				l.Release(nil)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		require.Truef(t, errors.Is(err, context.DeadlineExceeded), "bob's acquire %d: %v", i, err)
	}

	// Bob's pool withdraws its requests, and alice owes nothing any more.
	var s Stats
	settled := func() bool {
		s = m.Stats()
		return s.Total.Waiters == 0 && s.Total.AwaitingPermit == 0 && s.Total.Owed == 0 && s.PermitWaiters == 0
	}
	eventually(t, settled, "requests withdrawn and steals called off")
	assert.Equal(t, 3, s.PermitsInUse, "alice's 3 connections hold the 3 permits")

	for _, l := range as {
		l.Release(nil)
	}
	eventually(t, func() bool {
		s = m.Stats()
		a, ok := poolOfIdentity(s, "alice")
		return ok && a.Idle == 3 && a.Busy == 0
	}, "alice keeps her 3 connections idle")
	assert.Zero(t, s.Total.Closes["stolen"], "nothing stolen for nobody: %v", s.Total.Closes)
	assert.Equal(t, 3, s.Total.Open)
	assert.Zero(t, s.Total.AwaitingPermit)
	assert.Zero(t, s.Total.Owed)
	b, ok := poolOfIdentity(s, "bob")
	require.True(t, ok)
	assert.Zero(t, b.Opens, "bob's pool opened nothing")

	// Bob can still get a connection: now one of alice's is stolen, for him.
	l := acquire(t, m, bob)
	assert.Equal(t, "test:bob", firstString(t, query(t, l, "SELECT IDENTITY")))
	l.Release(nil)
	s = m.Stats()
	assert.EqualValues(t, 1, s.Total.Closes["stolen"], "one steal, for the acquire that wanted it")
	assert.Zero(t, s.Total.AwaitingPermit)
	assert.Zero(t, s.Total.Owed)
	assert.LessOrEqual(t, peak(), 3, "the server never saw more sessions than MaxTotal")
}

// TestMaxTotalFailedDialPaysTheStealItWasAskedFor: a pool asked to give up a
// connection (StealIdle) while its only spare was a dial in flight owes one;
// when that dial fails, its permit goes back, and the manager counts that
// return as the steal paid (it grants the room to the pool waiting). The
// pool must count it paid too. Before, alice kept owing: the next
// connection she released was closed ("stolen") for nobody, and at rest a
// MinSize pool closed each fresh fill for a debt long settled and refilled
// (the virtual simulator's churn invariant, --max-total 3 --min-size 1).
func TestMaxTotalFailedDialPaysTheStealItWasAskedFor(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 3, MaxTotal: 2, HealthCheckAfter: -1, DialBackoff: -1})
	alice, bob := identity("alice"), identity("bob")
	a1 := acquire(t, m, alice)

	// Alice's second dial holds the second permit, held at the server.
	release := db.BlockDials()
	defer release()
	aliceErr := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		l, err := m.Acquire(ctx, alice)
		if err == nil {
			l.Release(nil)
		}
		aliceErr <- err
	}()
	eventually(t, func() bool { a, ok := poolOfIdentity(m.Stats(), "alice"); return ok && a.Dialing == 1 }, "alice dials")

	// Bob queues at the cap; the manager asks alice, who has nothing idle:
	// she owes a connection.
	bobLease := make(chan *Lease, 1)
	go func() {
		l, err := m.Acquire(context.Background(), bob)
		assert.NoError(t, err)
		bobLease <- l
	}()
	eventually(t, func() bool { a, ok := poolOfIdentity(m.Stats(), "alice"); return ok && a.Owed == 1 }, "alice owes bob a connection")

	// Alice's dial fails: its permit goes to bob.
	db.FailDials(1, errors.New("login refused"))
	release()
	var de *DialError
	require.ErrorAs(t, <-aliceErr, &de)
	b := <-bobLease
	b.Release(nil)

	a1.Release(nil)
	var s Stats
	eventually(t, func() bool {
		s = m.Stats()
		a, ok := poolOfIdentity(s, "alice")
		return ok && a.Busy == 0 && a.ClosingConns == 0 && s.Total.Waiters == 0
	}, "alice's lease back")
	a, _ := poolOfIdentity(s, "alice")
	assert.Zero(t, a.Owed, "the failed dial paid alice's debt")
	assert.Equal(t, 1, a.Idle, "alice keeps the connection she released")
	assert.Zero(t, s.Total.Closes["stolen"], "nothing stolen for nobody: %v", s.Total.Closes)
	assert.Equal(t, 2, s.PermitsInUse)
}

// TestMaxTotalStealsNoMoreThanTheQueueNeeds: the steals the manager keeps
// out never outnumber the requests queued. Alice owes bob's two queued
// requests a connection each. Her first release pays one; before, serving
// it also sent a fresh steal for bob's second request, which alice's second
// debt already covered: alice, owing all she had, refused it, and carol was
// asked. When alice's second release served bob, carol still owed, and her
// release was closed ("stolen") for nobody, a permit left unused.
func TestMaxTotalStealsNoMoreThanTheQueueNeeds(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 3, MaxTotal: 3, HealthCheckAfter: -1})
	peak := watchOpen(t, db)
	alice, bob, carol := identity("alice"), identity("bob"), identity("carol")
	a1, a2 := acquire(t, m, alice), acquire(t, m, alice)
	c1 := acquire(t, m, carol)

	bobs := make(chan *Lease, 2)
	for range 2 {
		go func() {
			l, err := m.Acquire(context.Background(), bob)
			assert.NoError(t, err)
			bobs <- l
		}()
	}
	eventually(t, func() bool { a, ok := poolOfIdentity(m.Stats(), "alice"); return ok && a.Owed == 2 },
		"alice, the richest, owes both of bob's requests")

	a1.Release(nil)
	b1 := <-bobs
	a2.Release(nil)
	b2 := <-bobs
	b1.Release(nil)
	b2.Release(nil)
	c1.Release(nil)
	var s Stats
	eventually(t, func() bool {
		s = m.Stats()
		return s.Total.Busy == 0 && s.Total.ClosingConns == 0 && s.Total.Waiters == 0 && s.Total.AwaitingPermit == 0
	}, "every lease back")
	c, ok := poolOfIdentity(s, "carol")
	require.True(t, ok)
	assert.Zero(t, c.Owed, "carol owes nothing")
	assert.Equal(t, 1, c.Idle, "carol keeps her connection")
	assert.EqualValues(t, 2, s.Total.Closes["stolen"], "two steals, one for each of bob's requests: %v", s.Total.Closes)
	assert.Equal(t, 3, s.PermitsInUse)
	assert.LessOrEqual(t, peak(), 3)
}

// TestMaxTotalMinSizeKeepsNoQueuedRequest: a permit request whose waiter
// gave up is not kept queued for MinSize alone. MinSize yields to MaxTotal:
// its fills are refused at the cap, never paid for by another pool's
// connection. Before, bob's pool kept the request it had queued for its
// cancelled waiter, since bob was below MinSize, and alice's connection
// was taken for it when she released it: a fill that stole, and alice, below
// MinSize in turn, asked to refill.
func TestMaxTotalMinSizeKeepsNoQueuedRequest(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 2, MinSize: 1, MaxTotal: 2, HealthCheckAfter: -1})
	peak := watchOpen(t, db)
	alice, bob, carol := identity("alice"), identity("bob"), identity("carol")
	a1 := acquire(t, m, alice)
	t.Cleanup(func() { a1.Release(nil) }) // before Close, should the test stop early
	c1 := acquire(t, m, carol)
	defer c1.Release(nil)
	eventually(t, func() bool {
		s := m.Stats()
		return s.PermitsInUse == 2 && s.Total.Dialing == 0 && s.Total.AwaitingPermit == 0
	},
		"the cap is full")

	ctx := newManualDeadline()
	got := make(chan error, 1)
	go func() {
		l, err := m.Acquire(ctx, bob)
		if err == nil {
			l.Release(nil)
		}
		got <- err
	}()
	eventually(t, func() bool { a, ok := poolOfIdentity(m.Stats(), "alice"); return ok && a.Owed == 1 },
		"bob's request queued, and alice asked for her connection")
	ctx.pass()
	require.ErrorIs(t, <-got, ErrAcquireTimeout)
	var s Stats
	eventually(t, func() bool {
		s = m.Stats()
		return s.PermitWaiters == 0 && s.Total.AwaitingPermit == 0 && s.Total.Owed == 0
	}, "bob's request withdrawn, alice's debt called off")

	a1.Release(nil)
	eventually(t, func() bool {
		s = m.Stats()
		a, ok := poolOfIdentity(s, "alice")
		return ok && a.Busy == 0 && a.ClosingConns == 0
	}, "alice's lease back")
	a, _ := poolOfIdentity(s, "alice")
	assert.Equal(t, 1, a.Idle, "alice keeps her connection")
	assert.Zero(t, s.Total.Closes["stolen"], "%v", s.Total.Closes)
	assert.LessOrEqual(t, peak(), 2)
}
