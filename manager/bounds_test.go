package manager

import (
	"context"
	"database/sql/driver"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// closeSlack is what a test allows beyond a documented bound for the
// scheduler of a loaded, -race machine (2 cores shared by other builds saw
// load 16); it asserts no timing finer than this. It stays well below what
// the bugs these tests guard against did: Close overshot a 300 ms ctx by
// 5 s, and stuck hooks or a declining PrepareConn held on for ever.
const closeSlack = 2 * time.Second

// gate blocks callers until it is opened; tests open it before they end so
// no goroutine stays stuck.
type gate struct {
	ch      chan struct{}
	once    sync.Once
	entered chan struct{}
}

func newGate() *gate { return &gate{ch: make(chan struct{}), entered: make(chan struct{}, 64)} }

func (g *gate) wait() {
	g.entered <- struct{}{}
	<-g.ch
}
func (g *gate) open() { g.once.Do(func() { close(g.ch) }) }

// closeWithin closes m with a ctx of d and returns the error and how long
// Close took.
func closeWithin(m *Manager, d time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	err := m.Close(ctx)
	return time.Since(start), err
}

func TestCloseIsBoundedByItsCtxWithAStuckDialer(t *testing.T) {
	db := memdb.New()
	g := newGate()
	defer g.open()
	var returned atomic.Pointer[memdb.Conn]
	m, err := New(Config{Server: "memdb:1/test", Dialer: DialerFunc(func(ctx context.Context, req DialRequest) (driver.Conn, error) {
		g.wait() // ignores ctx
		c, err := db.Dial(context.Background(), req)
		if err == nil {
			returned.Store(c.(*memdb.Conn))
		}
		return c, err
	})})
	require.NoError(t, err)
	acquired := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := m.Acquire(ctx, sqlLogin)
		acquired <- err
	}()
	<-g.entered
	took, err := closeWithin(m, 300*time.Millisecond)
	assert.Less(t, took, 300*time.Millisecond+CloseGrace+closeSlack, "Close overshot its ctx")
	var ce *CloseError
	require.ErrorAs(t, err, &ce)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, 0, ce.Forced, "no lease was held")
	assert.Equal(t, 1, ce.Dialing, "the stuck dial is reported")
	assert.Contains(t, err.Error(), "1 dials")
	assert.Error(t, <-acquired)
	g.open()
	// What the stuck dial returns later is closed by its pool.
	eventually(t, func() bool { return returned.Load() != nil && db.OpenNow() == 0 }, "the late connection is closed")
}

func TestCloseIsBoundedByItsCtxWithAStuckTokenSource(t *testing.T) {
	db := memdb.New()
	g := newGate()
	defer g.open()
	m, err := New(Config{Server: "memdb:1/test", Dialer: db})
	require.NoError(t, err)
	stuck := tokens.New(tokens.KindProvidedToken, "test:stuck", tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		g.wait()
		return tokens.Token{Value: "late", ExpiresOn: time.Now().Add(time.Hour)}, nil
	}))
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, _ = m.Acquire(ctx, stuck)
	}()
	<-g.entered
	took, err := closeWithin(m, 300*time.Millisecond)
	assert.Less(t, took, 300*time.Millisecond+CloseGrace+closeSlack)
	var ce *CloseError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, 1, ce.Minting)
	assert.Equal(t, 0, ce.Forced)
	g.open()
	eventually(t, func() bool { return m.Stats().Total.Minting == 0 && db.OpenNow() == 0 }, "the late mint is settled")
}

func TestCloseIsBoundedWithABeforeCloseHookThatHangs(t *testing.T) {
	g := newGate()
	defer g.open()
	m, db := newManagerNoCleanup(t, Config{Hooks: Hooks{BeforeClose: func(driver.Conn) { g.wait() }}})
	l := acquire(t, m, sqlLogin)
	l.Release(nil)
	took, err := closeWithin(m, 300*time.Millisecond)
	assert.Less(t, took, 300*time.Millisecond+CloseGrace+closeSlack)
	var ce *CloseError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, 1, ce.Closing, "the close held up by the hook")
	assert.Equal(t, 0, ce.Forced)
	g.open()
	eventually(t, func() bool { return db.OpenNow() == 0 }, "closed once the hook returns")
}

// pingGate makes Ping block on a gate, ignoring its ctx.
type pingGate struct {
	*memdb.Conn
	g *gate
}

func (c pingGate) Ping(context.Context) error { c.g.wait(); return nil }

func TestCloseClosesAConnectionStuckInAHealthCheckWhenTheCheckReturns(t *testing.T) {
	db := memdb.New()
	g := newGate()
	defer g.open()
	m, err := New(Config{Server: "memdb:1/test", HealthCheckAfter: time.Nanosecond,
		Dialer: DialerFunc(func(ctx context.Context, req DialRequest) (driver.Conn, error) {
			c, err := db.Dial(ctx, req)
			if err != nil {
				return nil, err
			}
			return pingGate{c.(*memdb.Conn), g}, nil
		})})
	require.NoError(t, err)
	l := acquire(t, m, sqlLogin)
	l.Release(nil)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, _ = m.Acquire(ctx, sqlLogin) // finds it idle: a health check starts
	}()
	<-g.entered
	took, err := closeWithin(m, 300*time.Millisecond)
	assert.Less(t, took, 300*time.Millisecond+CloseGrace+closeSlack)
	var ce *CloseError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, 1, ce.Checking)
	assert.Equal(t, 1, db.OpenNow(), "still in its health check")
	g.open()
	eventually(t, func() bool { return db.OpenNow() == 0 }, "closed when the check returned")
}

func TestCloseWithABackgroundCtxEndsWhenOnlyStuckWorkIsLeft(t *testing.T) {
	g := newGate()
	defer g.open()
	m, db := newManagerNoCleanup(t, Config{Hooks: Hooks{BeforeClose: func(driver.Conn) { g.wait() }}})
	l := acquire(t, m, sqlLogin)
	released := make(chan struct{})
	go func() {
		<-g.entered // never: nothing closes while the lease is out
		close(released)
	}()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- m.Close(context.Background()) }()
	l.Release(nil) // the lease comes back; its close then hangs in the hook
	err := <-done
	assert.Less(t, time.Since(start), CloseStuckGrace+closeSlack)
	var ce *CloseError
	require.ErrorAs(t, err, &ce)
	assert.ErrorIs(t, err, ErrCloseAbandoned)
	assert.Equal(t, 1, ce.Closing)
	assert.Equal(t, 0, ce.Forced)
	g.open()
	<-released
	eventually(t, func() bool { return db.OpenNow() == 0 }, "closed once the hook returns")
}

func TestCloseReportsNothingWhenEverythingClosesInTime(t *testing.T) {
	m, _ := newManagerNoCleanup(t, Config{})
	acquire(t, m, sqlLogin).Release(nil)
	_, err := closeWithin(m, time.Second)
	assert.NoError(t, err)
}

// newManagerNoCleanup is newManager for tests that close the manager
// themselves; it still checks, at the end, that nothing is left open.
func newManagerNoCleanup(t *testing.T, cfg Config) (*Manager, *memdb.DB) {
	t.Helper()
	db := memdb.New()
	cfg.Server, cfg.Dialer = "memdb:1/test", db
	m, err := New(cfg)
	require.NoError(t, err)
	return m, db
}

func TestDecliningPrepareConnIsBoundedByAcquireTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	m, db := newManager(t, Config{AcquireTimeout: timeout, HealthCheckAfter: -1,
		Hooks: Hooks{PrepareConn: func(context.Context, driver.Conn) (bool, error) { return false, nil }}})
	start := time.Now()
	_, err := m.Acquire(context.Background(), sqlLogin) // no deadline of its own
	took := time.Since(start)
	require.ErrorIs(t, err, ErrAcquireTimeout)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, took, timeout+closeSlack, "one deadline covers every attempt")
	t.Logf("dials in %s: %d", took, db.Dials())
}

// TestPrepareConnIgnoringItsCtxDoesNotHoldAcquire: a PrepareConn hook that
// ignores its ctx does not hold Acquire past the ctx's end, and its ctx
// carries the acquire's deadline (AcquireTimeout, as the caller's ctx has
// none). The ctx ends once the hook is known to be running, so no race with
// a slow dial decides the outcome.
func TestPrepareConnIgnoringItsCtxDoesNotHoldAcquire(t *testing.T) {
	g := newGate()
	defer g.open()
	deadlines := make(chan bool, 64)
	m, db := newManager(t, Config{AcquireTimeout: time.Minute, HealthCheckAfter: -1,
		Hooks: Hooks{PrepareConn: func(ctx context.Context, _ driver.Conn) (bool, error) {
			_, has := ctx.Deadline()
			deadlines <- has
			g.wait()
			return true, nil
		}}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cancelled := make(chan time.Time, 1)
	go func() {
		assert.True(t, <-deadlines, "the hook's ctx carries the acquire's deadline")
		cancelled <- time.Now()
		cancel()
	}()
	_, err := m.Acquire(ctx, sqlLogin)
	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(<-cancelled), closeSlack, "Acquire returned when its ctx ended, not when the hook did")
	g.open()
	eventually(t, func() bool {
		s := m.Stats().Total
		return s.Busy == 0 && s.Open == db.OpenNow()
	}, "the connection the late hook held is discarded, not leaked")
}

func TestAcquireWithAnEndedCtxFailsAtOnce(t *testing.T) {
	m, db := newManager(t, Config{})
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	_, err := m.Acquire(cancelled, identity("never"))
	assert.Equal(t, context.Canceled, err, "the ctx's own error")
	_, err = m.Acquire(expired, identity("never"))
	assert.Equal(t, context.DeadlineExceeded, err)
	assert.Zero(t, m.Stats().PoolsCreated, "no pool spawned")
	assert.Zero(t, db.Dials(), "nothing dialed")

	// A pool hit races nothing either: never a lease for an ended ctx.
	acquire(t, m, sqlLogin).Release(nil)
	for range 2000 {
		l, err := m.Acquire(cancelled, sqlLogin)
		require.ErrorIs(t, err, context.Canceled)
		require.Nil(t, l)
	}
	assert.Zero(t, m.Stats().Total.Busy)
}

// TestSlowClosesNeverTakeSessionsPastMaxSize counts live sessions at the
// server (memdb) while broken connections take a while to close: a session
// being closed still counts, so the server never sees more than MaxSize.
func TestSlowClosesNeverTakeSessionsPastMaxSize(t *testing.T) {
	const maxSize = 4
	db := memdb.New()
	var peak atomic.Int64
	dialer := DialerFunc(func(ctx context.Context, req DialRequest) (driver.Conn, error) {
		c, err := db.Dial(ctx, req)
		if err == nil {
			for n := int64(db.OpenNow()); ; {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
		}
		return c, err
	})
	m, _ := newManager(t, Config{MaxSize: maxSize, Dialer: dialer, HealthCheckAfter: -1,
		Hooks: Hooks{BeforeClose: func(driver.Conn) { time.Sleep(2 * time.Millisecond) }}}) // a slow close, not an ordering
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				l := acquire(t, m, sqlLogin)
				if (w+i)%5 == 0 {
					l.Release(driver.ErrBadConn)
				} else {
					l.Release(nil)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("peak sessions at the server: %d (MaxSize %d)", peak.Load(), maxSize)
	assert.LessOrEqual(t, peak.Load(), int64(maxSize))
	eventually(t, func() bool { return m.Stats().Total.ClosingConns == 0 }, "closes finish")
}

// TestMinSizeOverMaxTotalOpensNothingAtRest: two identities with MinSize 2
// under MaxTotal 2 cannot both have their minimum; with no traffic, nothing
// opens (the pools used to take connections from each other for ever).
func TestMinSizeOverMaxTotalOpensNothingAtRest(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 4, MinSize: 2, MaxTotal: 2, HealthCheckAfter: -1})
	acquire(t, m, identity("a")).Release(nil)
	acquire(t, m, identity("b")).Release(nil)
	eventually(t, func() bool {
		s := m.Stats()
		return s.Total.Dialing == 0 && s.Total.AwaitingPermit == 0 && s.Total.ClosingConns == 0
	}, "settled")
	before := db.Opened()
	time.Sleep(300 * time.Millisecond) // a quiet spell: measures, orders nothing
	opens := db.Opened() - before
	t.Logf("opens in 300ms at rest: %d", opens)
	assert.Zero(t, opens)
	assert.LessOrEqual(t, db.OpenNow(), 2)
}

// TestCloseWithABackgroundCtxDoesNotWaitForAnAbandonedPrepareConn: a
// PrepareConn hook that ignores its ctx holds a lease after its Acquire gave
// up. No caller will give that lease back, so Close with a ctx that never
// ends treats it as stuck work (CloseStuckGrace), not as a lease out: it
// used to wait for the hook for ever.
func TestCloseWithABackgroundCtxDoesNotWaitForAnAbandonedPrepareConn(t *testing.T) {
	g := newGate()
	defer g.open()
	m, db := newManagerNoCleanup(t, Config{HealthCheckAfter: -1,
		Hooks: Hooks{PrepareConn: func(context.Context, driver.Conn) (bool, error) {
			g.wait() // ignores its ctx
			return true, nil
		}}})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-g.entered; cancel() }()
	_, err := m.Acquire(ctx, sqlLogin)
	require.ErrorIs(t, err, context.Canceled)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- m.Close(context.Background()) }()
	select {
	case err = <-done:
	case <-time.After(CloseStuckGrace + closeSlack):
		g.open()
		<-done
		t.Fatalf("Close(Background) waited %v for a lease only the abandoned hook held", time.Since(start))
	}
	var ce *CloseError
	require.ErrorAs(t, err, &ce)
	assert.ErrorIs(t, err, ErrCloseAbandoned)
	assert.Equal(t, 1, ce.Checking, "the connection the hook holds is reported")
	assert.Equal(t, 0, ce.Forced)
	assert.Equal(t, 1, db.OpenNow(), "not closed under the running hook")
	g.open()
	eventually(t, func() bool { return db.OpenNow() == 0 }, "closed once the hook returns")
}

// queryGate makes QueryContext block on a gate, ignoring its ctx: an
// operation in flight on a lease that Close cannot stop.
type queryGate struct {
	*memdb.Conn
	g *gate
}

func (c queryGate) QueryContext(context.Context, string, []driver.NamedValue) (driver.Rows, error) {
	c.g.wait()
	return nil, driver.ErrBadConn
}

// TestCloseIsBoundedWithAnOperationInFlightThatHangs: a lease whose query
// ignores its ctx, a BeforeClose hook that hangs, and a Config.Clock that
// only a test moves (a simulation's). Close's bound is its ctx's end plus
// CloseGrace, in real time, whatever the Clock: the wait for operations in
// flight and the wait for the closes that follow share that one grace. The
// wait for operations used to run on Config.Clock (here: for ever) and,
// with the system clock, to take a CloseGrace of its own before the closes
// got theirs (Close returned 2 x CloseGrace after its ctx).
func TestCloseIsBoundedWithAnOperationInFlightThatHangs(t *testing.T) {
	db := memdb.New()
	op, hook := newGate(), newGate()
	defer op.open()
	defer hook.open()
	m, err := New(Config{Server: "memdb:1/test", Clock: newManualClock(), HealthCheckAfter: -1,
		Hooks: Hooks{BeforeClose: func(driver.Conn) { hook.wait() }},
		Dialer: DialerFunc(func(ctx context.Context, req DialRequest) (driver.Conn, error) {
			c, err := db.Dial(ctx, req)
			if err != nil {
				return nil, err
			}
			return queryGate{c.(*memdb.Conn), op}, nil
		})})
	require.NoError(t, err)
	l := acquire(t, m, sqlLogin)
	queried := make(chan error, 1)
	go func() {
		_, err := l.Conn().QueryContext(context.Background(), "SELECT 1", nil)
		queried <- err
	}()
	<-op.entered
	const deadline = 100 * time.Millisecond
	done := make(chan error, 1)
	start := time.Now()
	go func() { _, err := closeWithin(m, deadline); done <- err }()
	select {
	case err = <-done:
	case <-time.After(deadline + CloseGrace + closeSlack):
		op.open()
		hook.open()
		<-done
		t.Fatalf("Close(ctx %v) held for %v by an operation in flight", deadline, time.Since(start))
	}
	took := time.Since(start)
	t.Logf("Close returned after %v (ctx %v + CloseGrace %v)", took, deadline, CloseGrace)
	var ce *CloseError
	require.ErrorAs(t, err, &ce)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, 1, ce.Forced, "closed under the hung operation")
	op.open()
	<-queried
	hook.open()
	eventually(t, func() bool { return db.OpenNow() == 0 }, "closed once the hook returns")
}

// deadlineWithoutDone is a careless ctx: it has a deadline but no Done
// channel (context's contract says a ctx that can end has one) and never
// reports an error of its own.
type deadlineWithoutDone struct {
	context.Context
	deadline time.Time
}

func (c deadlineWithoutDone) Deadline() (time.Time, bool) { return c.deadline, true }
func (deadlineWithoutDone) Done() <-chan struct{}         { return nil }
func (deadlineWithoutDone) Err() error                    { return nil }

// An acquire whose ctx has a deadline but no Done channel queued behind a
// held connection: the pool enforces no AcquireTimeout for a ctx with a
// deadline of its own, and with nothing to select on the wait outlived the
// deadline until a connection came back (for good, if none did). It now
// fails at its deadline, within closeSlack, with the timeout error a ctx
// that ends gets, and the pool keeps no waiter.
func TestAQueuedAcquireWhoseCtxHasADeadlineButNoDoneEndsAtTheDeadline(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 1})
	held := acquire(t, m, sqlLogin)
	defer held.Release(nil)
	const wait = 200 * time.Millisecond
	ctx := deadlineWithoutDone{Context: context.Background(), deadline: time.Now().Add(wait)}
	start := time.Now()
	got := make(chan error, 1)
	go func() {
		l, err := m.Acquire(ctx, sqlLogin)
		if l != nil {
			l.Release(nil)
		}
		got <- err
	}()
	select {
	case err := <-got:
		elapsed := time.Since(start)
		var te *TimeoutError
		require.ErrorAs(t, err, &te)
		assert.False(t, te.Canceled, "a deadline, not a cancellation")
		assert.ErrorIs(t, err, ErrAcquireTimeout)
		assert.GreaterOrEqual(t, elapsed, wait-10*time.Millisecond, "not before the deadline")
		assert.Less(t, elapsed, wait+closeSlack, "at the deadline")
	case <-time.After(10 * time.Second):
		t.Fatal("the acquire waited past its ctx's deadline")
	}
	assert.Zero(t, m.Stats().Total.Waiters, "the pool keeps no waiter")
}
