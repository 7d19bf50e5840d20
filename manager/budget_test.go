package manager

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeBudget is a SessionBudget whose permits the test hands out by hand.
type fakeBudget struct {
	mu      sync.Mutex
	avail   int // permits at hand
	taken   int // permits out with the manager
	forfeit int // permits lost that Release must not put back
	want    int
	notify  func(BudgetSignal)
}

func (f *fakeBudget) enter() func() {
	f.mu.Lock()
	return f.mu.Unlock
}

func (f *fakeBudget) TryAcquire() bool {
	defer f.enter()()
	if f.avail == 0 {
		return false
	}
	f.avail--
	f.taken++
	return true
}

func (f *fakeBudget) Want(n int) { defer f.enter()(); f.want = n }

func (f *fakeBudget) Release() {
	defer f.enter()()
	f.taken--
	if f.forfeit > 0 {
		f.forfeit--
		return
	}
	f.avail++
}

func (f *fakeBudget) Subscribe(fn func(BudgetSignal)) { defer f.enter()(); f.notify = fn }

func (f *fakeBudget) signal(s BudgetSignal) {
	f.mu.Lock()
	fn := f.notify
	f.mu.Unlock()
	fn(s)
}

func (f *fakeBudget) add(n int) {
	f.mu.Lock()
	f.avail += n
	f.mu.Unlock()
	f.signal(BudgetSignal{})
}

// lose drops n permits out with the manager, as a lost lease would.
func (f *fakeBudget) lose(n int) {
	f.mu.Lock()
	f.forfeit += n
	f.mu.Unlock()
	f.signal(BudgetSignal{Shed: n})
}

func (f *fakeBudget) state() (avail, taken, want int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.avail, f.taken, f.want
}

// With only a fleet budget (no MaxTotal), the server never sees more sessions
// than fleet permits taken; a dial waits for the fleet, says so through Want,
// and proceeds when a permit comes.
func TestFleetBudgetCapsDialsAndWaitsForPermits(t *testing.T) {
	fb := &fakeBudget{avail: 2}
	m, db := newManager(t, Config{MaxSize: 5, Fleet: fb, HealthCheckAfter: -1})
	peak := watchOpen(t, db)
	a1 := acquire(t, m, identity("alice"))
	b1 := acquire(t, m, identity("bob"))
	got := make(chan *Lease, 1)
	go func() {
		l, err := m.Acquire(context.Background(), identity("carol"))
		assert.NoError(t, err)
		got <- l
	}()
	eventually(t, func() bool { _, _, w := fb.state(); return w == 1 }, "the gate asks the budget for one permit")
	select {
	case <-got:
		t.Fatal("carol was served without a fleet permit")
	default:
	}
	fb.add(1)
	c1 := <-got
	_, taken, want := fb.state()
	assert.Equal(t, 3, taken)
	assert.Equal(t, 0, want)
	for _, l := range []*Lease{a1, b1, c1} {
		l.Release(nil)
	}
	assert.LessOrEqual(t, peak(), 3)
}

// At the fleet's cap, a waiting identity is served by closing another
// identity's idle connection, whose permit comes back through Release.
func TestFleetBudgetFullStealsAnIdleConnection(t *testing.T) {
	fb := &fakeBudget{avail: 1}
	m, db := newManager(t, Config{MaxSize: 5, Fleet: fb, HealthCheckAfter: -1})
	peak := watchOpen(t, db)
	acquire(t, m, identity("alice")).Release(nil)
	got := make(chan error, 1)
	go func() {
		l, err := m.Acquire(context.Background(), identity("bob"))
		if err == nil {
			l.Release(nil)
		}
		got <- err
	}()
	eventually(t, func() bool { _, _, w := fb.state(); return w == 1 }, "bob waits for a fleet permit")
	fb.signal(BudgetSignal{Full: true})
	require.NoError(t, <-got)
	assert.EqualValues(t, 1, m.Stats().Total.Closes["stolen"])
	assert.LessOrEqual(t, peak(), 1)
}

// A lost lease sheds connections: idle ones at once, busy ones on release,
// and their permits are not put back.
func TestFleetBudgetShedClosesConnections(t *testing.T) {
	fb := &fakeBudget{avail: 3}
	m, db := newManager(t, Config{MaxSize: 5, Fleet: fb, HealthCheckAfter: -1, IdleTimeout: -1})
	a := []*Lease{acquire(t, m, identity("alice")), acquire(t, m, identity("alice")), acquire(t, m, identity("alice"))}
	a[0].Release(nil)
	a[1].Release(nil)
	fb.lose(3)
	eventually(t, func() bool { return db.OpenNow() == 1 }, "the idle connections close at once")
	a[2].Release(nil)
	eventually(t, func() bool { return db.OpenNow() == 0 }, "the busy one closes on release")
	// The permit comes back once the pool has seen the close finish, a step
	// after the driver counts it closed.
	eventually(t, func() bool { _, taken, _ := fb.state(); return taken == 0 }, "every permit is released")
	avail, _, _ := fb.state()
	assert.Equal(t, 0, avail, "the shed permits are not put back")
	assert.EqualValues(t, 3, m.Stats().Total.Closes["stolen"])
}

// Close refuses the acquires waiting for a fleet permit, at once.
func TestFleetBudgetCloseRefusesWaitingDials(t *testing.T) {
	fb := &fakeBudget{}
	m, err := New(Config{Server: "memdb:1/x", Dialer: DialerFunc(func(context.Context, DialRequest) (driver.Conn, error) {
		return nil, errors.New("never dialled")
	}), Fleet: fb})
	require.NoError(t, err)
	got := make(chan error, 1)
	go func() {
		_, err := m.Acquire(context.Background(), identity("alice"))
		got <- err
	}()
	eventually(t, func() bool { _, _, w := fb.state(); return w == 1 }, "alice waits for a fleet permit")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, m.Close(ctx))
	assert.ErrorIs(t, <-got, ErrClosed)
	_, _, want := fb.state()
	assert.Equal(t, 0, want)
}

// An acquire that gives up while its dial waits for a fleet permit takes its
// request out of the gate: the budget is no longer asked for it, the local
// permit it held under MaxTotal goes back, and a fleet permit that comes
// later is not spent on it. The caller still hears it waited for the fleet.
func TestFleetBudgetWithdrawsTheRequestOfAnAcquireThatGaveUp(t *testing.T) {
	for _, maxTotal := range []int{5, 0} {
		t.Run(fmt.Sprint("MaxTotal=", maxTotal), func(t *testing.T) { testFleetWithdraw(t, maxTotal) })
	}
}

func testFleetWithdraw(t *testing.T, maxTotal int) {
	fb := &fakeBudget{avail: 1}
	m, db := newManager(t, Config{MaxSize: 5, MaxTotal: maxTotal, Fleet: fb, HealthCheckAfter: -1})
	a := acquire(t, m, identity("alice"))
	ctx := newManualDeadline()
	got := make(chan error, 1)
	go func() {
		l, err := m.Acquire(ctx, identity("bob"))
		if err == nil {
			l.Release(nil)
		}
		got <- err
	}()
	eventually(t, func() bool { _, _, w := fb.state(); return w == 1 }, "bob's dial waits for the fleet")
	if maxTotal > 0 {
		require.Equal(t, 2, m.Stats().PermitsInUse, "holding a local permit")
	}
	ctx.pass()
	err := <-got
	var fe *FleetTimeoutError
	require.ErrorAs(t, err, &fe, "%v", err)
	assert.Equal(t, 1, fe.DialsWaiting, "its own dial was waiting")

	var s Stats
	eventually(t, func() bool {
		s = m.Stats()
		_, _, want := fb.state()
		return want == 0 && s.Total.AwaitingPermit == 0 && (maxTotal == 0 || s.PermitsInUse == 1)
	}, "the request is withdrawn from the gate and its local permit given back")
	fb.add(1)
	// The Stats round trip passes through the manager after the signal.
	s = m.Stats()
	avail, taken, _ := fb.state()
	assert.Equal(t, 1, avail, "the fleet permit is not spent on bob")
	assert.Equal(t, 1, taken, "alice's")
	b, ok := poolOfIdentity(s, "bob")
	require.True(t, ok)
	assert.Zero(t, b.Opens)
	assert.Equal(t, 1, db.OpenNow())
	a.Release(nil)
}

// A MinSize fill waiting at the fleet gate stays there when the waiters it
// and a request made for them covered give up: the request is withdrawn,
// the fill is MinSize's and is served when the fleet has room. (A request
// kept only for MinSize is withdrawn only if queued in the MaxTotal book;
// withdrawing the fill at the gate would have the pool ask for it again,
// for ever.)
func TestFleetGateKeepsAMinSizeFillWhenWaitersGiveUp(t *testing.T) {
	fb := &fakeBudget{avail: 1}
	m, db := newManager(t, Config{MaxSize: 3, MinSize: 2, Fleet: fb, HealthCheckAfter: -1})
	alice := identity("alice")
	l1 := acquire(t, m, alice) // the pool fills: one fill served, one waits for the fleet
	defer l1.Release(nil)
	eventually(t, func() bool {
		a, ok := poolOfIdentity(m.Stats(), "alice")
		return ok && a.Open == 1 && a.AwaitingPermit == 1
	},
		"one fill waits at the gate")

	errs := make(chan error, 2)
	ctx := newManualDeadline()
	for range 2 {
		go func() { _, err := m.Acquire(ctx, alice); errs <- err }()
	}
	eventually(t, func() bool {
		a, _ := poolOfIdentity(m.Stats(), "alice")
		return a.Waiters == 2 && a.AwaitingPermit == 2
	},
		"the fill covers one waiter, a request the other")
	ctx.pass()
	for range 2 {
		require.ErrorIs(t, <-errs, ErrAcquireTimeout)
	}
	eventually(t, func() bool {
		a, _ := poolOfIdentity(m.Stats(), "alice")
		_, _, want := fb.state()
		return a.Waiters == 0 && a.AwaitingPermit == 1 && want == 1
	}, "the request withdrawn, the fill still waiting for the fleet")

	fb.add(1)
	eventually(t, func() bool { a, _ := poolOfIdentity(m.Stats(), "alice"); return a.Open == 2 && a.AwaitingPermit == 0 },
		"the fill is served: MinSize reached")
	assert.Equal(t, 2, db.OpenNow())
}
