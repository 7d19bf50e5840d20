package manager

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/idpool/idpool/actors"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// statsBudget is a fakeBudget that describes itself, as package fleet's
// Budget does.
type statsBudget struct {
	*fakeBudget
	refused, losses uint64
	leaseLost       bool
}

func (s *statsBudget) FleetStats() FleetStats {
	avail, taken, want := s.state()
	return FleetStats{Budget: "etcd budget /test/", Cap: 3, FleetHeld: 3, Held: avail + taken, InUse: taken,
		Waiting: want, Refused: s.refused, LeaseLosses: s.losses, LeaseValid: !s.leaseLost}
}

// Stats().Fleet shows the budget as the manager sees it: permits held and in
// use, the dials waiting for the fleet, and the refusals; it is nil without a
// fleet, and without a budget that can describe itself.
func TestFleetStatsInManagerStats(t *testing.T) {
	fb := &statsBudget{fakeBudget: &fakeBudget{avail: 1}, refused: 4}
	m, _ := newManager(t, Config{MaxSize: 5, Fleet: fb, HealthCheckAfter: -1})
	a := acquire(t, m, identity("alice"))
	got := make(chan error, 1)
	go func() {
		l, err := m.Acquire(context.Background(), identity("bob"))
		if err == nil {
			l.Release(nil)
		}
		got <- err
	}()
	eventually(t, func() bool { s := m.Stats().Fleet; return s != nil && s.Waiting == 1 }, "bob's dial waits for the fleet")
	s := m.Stats().Fleet
	require.NotNil(t, s)
	assert.Equal(t, FleetStats{Budget: "etcd budget /test/", Cap: 3, FleetHeld: 3, Held: 1, InUse: 1, Waiting: 1, Refused: 4, LeaseValid: true}, *s)
	fb.add(1)
	require.NoError(t, <-got)
	a.Release(nil)
	s = m.Stats().Fleet
	assert.Equal(t, 0, s.Waiting)
	assert.Equal(t, 2, s.Held)

	plain, _ := newManager(t, Config{})
	assert.Nil(t, plain.Stats().Fleet, "no fleet")
	mute, _ := newManager(t, Config{Fleet: &fakeBudget{}})
	assert.Nil(t, mute.Stats().Fleet, "a budget without FleetStats")
}

// The idpool.fleet.* instruments report the budget's figures at each
// collection, and exist only with a budget that describes itself.
func TestFleetMetricsObserveTheBudget(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { require.NoError(t, mp.Shutdown(context.Background())) }()
	fb := &statsBudget{fakeBudget: &fakeBudget{avail: 2}, refused: 7, losses: 1}
	m, _ := newManager(t, Config{MaxSize: 5, Fleet: fb, HealthCheckAfter: -1, MeterProvider: mp})
	a := acquire(t, m, identity("alice"))
	defer a.Release(nil)
	got := collect(t, reader)
	for name, want := range map[string]int64{
		"idpool.fleet.permits.held": 2, "idpool.fleet.permits.in_use": 1, "idpool.fleet.permits.waiting": 0,
		"idpool.fleet.permits.refused": 7, "idpool.fleet.permits.cap": 3, "idpool.fleet.lease.losses": 1, "idpool.fleet.errors": 0,
	} {
		require.Contains(t, got, name)
		assert.Equal(t, want, sumPoints(got[name], ""), name)
		assert.NotEmpty(t, got[name].Description, name)
	}
	assert.Equal(t, "{permit}", got["idpool.fleet.permits.held"].Unit)

	// A waiting dial shows in idpool.fleet.permits.waiting.
	fb.mu.Lock()
	fb.avail = 0
	fb.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := m.Acquire(ctx, identity("bob")); done <- err }()
	eventually(t, func() bool { _, _, w := fb.state(); return w == 1 }, "bob's dial waits for the fleet")
	assert.Equal(t, int64(1), sumPoints(collect(t, reader)["idpool.fleet.permits.waiting"], ""))
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)

	reader2 := sdkmetric.NewManualReader()
	mp2 := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader2))
	defer func() { require.NoError(t, mp2.Shutdown(context.Background())) }()
	plain, _ := newManager(t, Config{MeterProvider: mp2})
	acquire(t, plain, identity("alice")).Release(nil)
	for name := range collect(t, reader2) {
		assert.NotContains(t, name, "idpool.fleet.")
	}
}

// manualDeadline is a ctx with a deadline that passes when the test says so.
type manualDeadline struct {
	context.Context
	done chan struct{}
	once sync.Once
}

func newManualDeadline() *manualDeadline {
	return &manualDeadline{Context: context.Background(), done: make(chan struct{})}
}

func (c *manualDeadline) Deadline() (time.Time, bool) { return time.Now().Add(time.Hour), true }
func (c *manualDeadline) Done() <-chan struct{}       { return c.done }
func (c *manualDeadline) pass()                       { c.once.Do(func() { close(c.done) }) }
func (c *manualDeadline) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// An acquire that times out while its dial waits for a fleet permit says
// so, names the budget and its figures, and is still an acquire timeout.
func TestFleetTimeoutSaysItWaitedForTheFleet(t *testing.T) {
	fb := &statsBudget{fakeBudget: &fakeBudget{}}
	m, db := newManager(t, Config{MaxSize: 5, Fleet: fb, HealthCheckAfter: -1})
	ctx := newManualDeadline()
	got := make(chan error, 1)
	go func() { _, err := m.Acquire(ctx, identity("alice")); got <- err }()
	eventually(t, func() bool { _, _, w := fb.state(); return w == 1 }, "alice's dial waits for the fleet")
	ctx.pass()
	err := <-got
	var fe *FleetTimeoutError
	require.ErrorAs(t, err, &fe)
	assert.ErrorIs(t, err, ErrAcquireTimeout)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	var te *TimeoutError
	assert.ErrorAs(t, err, &te, "the pool's timeout is wrapped, not replaced")
	assert.Contains(t, err.Error(), "idpool: acquire timed out waiting for a fleet session permit for pool memdb:1/test")
	assert.Contains(t, err.Error(), "(etcd budget /test/: this process held 0 of cap 3, the fleet 3 at the last read; 1 dials waiting for the fleet")
	assert.NotContains(t, err.Error(), "token-of-alice")
	assert.Equal(t, 1, fe.DialsWaiting)
	assert.Zero(t, db.OpenNow(), "nothing was dialed without a permit")

	assert.NotContains(t, err.Error(), "lease not valid")

	// Cancelled while waiting, with the lease lost: it says cancelled and
	// why the fleet gives nothing, and matches context.Canceled only.
	fb.leaseLost = true
	cctx, cancel := context.WithCancel(context.Background())
	go func() { _, err := m.Acquire(cctx, identity("alice")); got <- err }()
	eventually(t, func() bool { return m.Stats().Total.Waiters == 1 }, "alice queues again")
	cancel()
	err = <-got
	require.ErrorAs(t, err, &fe)
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, ErrAcquireTimeout)
	assert.Contains(t, err.Error(), "acquire cancelled waiting for a fleet session permit")
	assert.Contains(t, err.Error(), "the fleet 3 at the last read, its lease not valid: the budget's store unreachable or the lease lost;")
}

// The pool's own AcquireTimeout (no deadline on the ctx) says the same.
func TestFleetTimeoutOfAcquireTimeoutSaysItWaitedForTheFleet(t *testing.T) {
	fb := &fakeBudget{}
	clock := newManualClock()
	m, _ := newManager(t, Config{MaxSize: 5, Fleet: fb, HealthCheckAfter: -1, AcquireTimeout: time.Second, Clock: clock})
	got := make(chan error, 1)
	go func() { _, err := m.Acquire(context.Background(), identity("alice")); got <- err }()
	eventually(t, func() bool { _, _, w := fb.state(); return w == 1 }, "alice's dial waits for the fleet")
	clock.advance(time.Second)
	err := <-got
	var fe *FleetTimeoutError
	require.ErrorAs(t, err, &fe)
	assert.ErrorIs(t, err, ErrAcquireTimeout)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	// Without FleetStats the budget is not named, the wait still is.
	assert.Contains(t, err.Error(), "idpool: acquire timed out waiting for a fleet session permit for pool memdb:1/test")
	assert.Contains(t, err.Error(), "(1 dials waiting for the fleet; pool max size 5, 0 waiting)")
}

// A timeout with a fleet that did not hold the dial (the pool was at its
// MaxSize) is the plain *TimeoutError: the fleet is not blamed.
func TestTimeoutNotCausedByTheFleetDoesNotNameIt(t *testing.T) {
	fb := &statsBudget{fakeBudget: &fakeBudget{avail: 3}}
	m, _ := newManager(t, Config{MaxSize: 1, Fleet: fb, HealthCheckAfter: -1})
	l := acquire(t, m, identity("alice"))
	defer l.Release(nil)
	ctx := newManualDeadline()
	got := make(chan error, 1)
	go func() { _, err := m.Acquire(ctx, identity("alice")); got <- err }()
	eventually(t, func() bool { return m.Stats().Total.Waiters == 1 }, "alice queues at MaxSize")
	ctx.pass()
	err := <-got
	assert.ErrorIs(t, err, ErrAcquireTimeout)
	var fe *FleetTimeoutError
	assert.False(t, errors.As(err, &fe), "%v", err)
	assert.NotContains(t, err.Error(), "fleet")
}

// manualClock is a Clock whose time moves only when the test advances it;
// due timers run then, on the test's goroutine.
type manualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*manualTimer
}

type manualTimer struct {
	c   *manualClock
	at  time.Time
	f   func()
	off bool
}

func newManualClock() *manualClock { return &manualClock{now: time.Now()} }

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) AfterFunc(d time.Duration, f func()) actors.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *manualTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.off
	t.off = true
	return was
}

func (c *manualClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []func()
	kept := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.off:
		case !t.at.After(c.now):
			t.off = true
			due = append(due, t.f)
		default:
			kept = append(kept, t)
		}
	}
	c.timers = kept
	c.mu.Unlock()
	for _, f := range due {
		f()
	}
}

// A request withdrawn from the fleet gate because its waiter was served
// by a connection released meanwhile (no timeout, no one asks why) does not
// make a later timeout of the pool, for another reason, blame the fleet.
func TestFleetWaitServedByAReleaseIsNotBlamedLater(t *testing.T) {
	fb := &statsBudget{fakeBudget: &fakeBudget{avail: 1}}
	m, _ := newManager(t, Config{MaxSize: 2, Fleet: fb, HealthCheckAfter: -1})
	alice := identity("alice")
	l1 := acquire(t, m, alice)
	served := make(chan *Lease, 1)
	go func() {
		l, err := m.Acquire(context.Background(), alice)
		assert.NoError(t, err)
		served <- l
	}()
	eventually(t, func() bool { _, _, w := fb.state(); return w == 1 }, "alice's second dial waits for the fleet")
	l1.Release(nil)
	l2 := <-served
	defer l2.Release(nil)
	eventually(t, func() bool { _, _, w := fb.state(); return w == 0 }, "the request waiting at the gate is withdrawn")

	// Alice at her MaxSize: the next acquire waits for a release, not the
	// fleet.
	fb.add(1)
	l3 := acquire(t, m, alice)
	defer l3.Release(nil)
	ctx := newManualDeadline()
	got := make(chan error, 1)
	go func() { _, err := m.Acquire(ctx, alice); got <- err }()
	eventually(t, func() bool { return m.Stats().Total.Waiters == 1 }, "alice queues at MaxSize")
	ctx.pass()
	err := <-got
	assert.ErrorIs(t, err, ErrAcquireTimeout)
	var fe *FleetTimeoutError
	assert.False(t, errors.As(err, &fe), "%v", err)
}
