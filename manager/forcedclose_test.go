package manager

import (
	"context"
	"database/sql/driver"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/tokens"
)

// A forced Close never calls a driver connection's Close while an operation
// of its holder is still inside it: pgx cleans up after a cut on the
// operation's goroutine, and a Close at the same time is a data race in pgx
// (see Manager.Close). The Close is left to the operation, which has the
// pool close the connection when it leaves; until then the connection is
// counted closing. These tests use the stuck driver of cancelgrace_test.go,
// whose connections count a Close made while a stuck call is inside.

// closingConns is how many connections m counts closing.
func closingConns(m *Manager) int { return m.Stats().Total.ClosingConns }

// With nothing to cut the call (CancelGrace off, as with a driver that
// ignores the cut), the connection stays open, counted closing, for as
// long as the call runs; once the call leaves, it is closed, once.
func TestAForcedCloseLeavesTheCloseToTheOperationInside(t *testing.T) {
	d := &stuckDialer{}
	m := newStuckManager(t, d, nil, -1)
	l, c := leaseOf(t, m)
	got := stuckExec(t, context.Background(), l, c)

	start := time.Now()
	var ce *CloseError
	require.ErrorAs(t, closeNow(t, m), &ce)
	assert.Less(t, time.Since(start), CloseGrace+closeSlack, "Close overshot its ctx plus CloseGrace")
	assert.Equal(t, 1, ce.Forced, "the lease was closed by force")
	assert.Equal(t, 1, ce.Closing, "its connection is reported still closing")
	assert.Equal(t, 1, closingConns(m))
	assert.Zero(t, d.closes.Load(), "the connection was closed under the call inside it")

	c.let() // the call returns
	require.NoError(t, <-got)
	awaitCloses(t, d, 1)
	require.Eventually(t, func() bool { return closingConns(m) == 0 }, 10*time.Second, time.Millisecond,
		"the pool still counts the connection closing after its Close")
	assert.Zero(t, d.closedUnderCall.Load(), "closed under the call")

	l.Release(nil) // ignored: the connection is gone
	assert.Zero(t, closingConns(m))
	assert.EqualValues(t, 1, d.closes.Load(), "closed once")
	assert.ErrorIs(t, l.Conn().Ping(context.Background()), ErrLeaseForceClosed)
}

// With the cut, the call fails at once and the connection is closed after
// it has left, not under it.
func TestAForcedCloseClosesAfterTheCutCallLeaves(t *testing.T) {
	d := &stuckDialer{}
	m := newStuckManager(t, d, nil, testGrace)
	l, c := leaseOf(t, m)
	got := stuckExec(t, context.Background(), l, c)
	var ce *CloseError
	require.ErrorAs(t, closeNow(t, m), &ce)
	assert.Equal(t, 1, ce.Forced)
	select {
	case err := <-got:
		require.ErrorIs(t, err, errTransportCut)
	case <-time.After(10 * time.Second):
		c.let()
		t.Fatal("the call still ran 10 s after the cut")
	}
	awaitCloses(t, d, 1)
	assert.True(t, c.cutBeforeClose.Load(), "cut, then closed")
	assert.Zero(t, d.closedUnderCall.Load(), "closed under the call")
	require.Eventually(t, func() bool { return closingConns(m) == 0 }, 10*time.Second, time.Millisecond)
	l.Release(nil)
	assert.EqualValues(t, 1, d.closes.Load(), "closed once")
}

// A Release begun while the call ran waits for it; the forced Close comes
// meanwhile. When the call leaves, its close and the Release's hand-back
// cross: the connection is closed once, after the call, and Release
// returns.
func TestAReleaseWaitingForTheCallRacesTheForcedClose(t *testing.T) {
	d, clock := &stuckDialer{}, newGuardClock()
	m := newStuckManager(t, d, clock, -1)
	l, c := leaseOf(t, m)
	got := stuckExec(t, context.Background(), l, c)
	released := make(chan struct{})
	go func() {
		defer close(released)
		l.Release(nil)
	}()
	fire := <-clock.waits // Release waits for the call
	defer fire()

	var ce *CloseError
	require.ErrorAs(t, closeNow(t, m), &ce)
	assert.Equal(t, 1, ce.Forced)
	assert.Zero(t, d.closes.Load(), "closed under the call")

	c.let()
	require.NoError(t, <-got)
	select {
	case <-released:
	case <-time.After(10 * time.Second):
		t.Fatal("Release still waits after the call left")
	}
	awaitCloses(t, d, 1)
	require.Eventually(t, func() bool { return closingConns(m) == 0 }, 10*time.Second, time.Millisecond)
	assert.EqualValues(t, 1, d.closes.Load(), "closed once")
	assert.Zero(t, d.closedUnderCall.Load())
}

// Release's own work on the connection (here the rollback of a transaction
// left open, stuck on a silent server) counts as an operation inside it:
// the forced Close waits for it, then leaves the connection's Close to it.
func TestAForcedCloseLeavesTheCloseToAStuckReleaseRollback(t *testing.T) {
	d := &stuckDialer{}
	m := newStuckManager(t, d, nil, -1)
	l, c := leaseOf(t, m)
	_, err := l.Conn().BeginTx(context.Background(), driverTxOptions())
	require.NoError(t, err)
	released := make(chan struct{})
	go func() {
		defer close(released)
		l.Release(nil)
	}()
	c.awaitEntered(t) // the rollback, stuck

	var ce *CloseError
	require.ErrorAs(t, closeNow(t, m), &ce)
	assert.Equal(t, 1, ce.Forced)
	assert.Zero(t, d.closes.Load(), "closed under the rollback")

	c.let()
	<-released
	awaitCloses(t, d, 1)
	require.Eventually(t, func() bool { return closingConns(m) == 0 }, 10*time.Second, time.Millisecond)
	assert.EqualValues(t, 1, d.closes.Load(), "closed once")
	assert.Zero(t, d.closedUnderCall.Load())
}

// A PrepareConn hook works inside the connection of a lease its Acquire has
// not handed out yet: that is an operation of the lease too. The forced
// Close waits for it as for any operation (until its CloseGrace), then
// leaves the connection's Close to it rather than close the connection
// under the hook (pgx's connection, for one, is not safe for concurrent
// use).
func TestAForcedCloseLeavesTheCloseToAPrepareConnHookInside(t *testing.T) {
	d := &stuckDialer{}
	inHook := make(chan *stuckConn, 1)
	cfg := Config{Server: "stuck:1/db", Dialer: d, CancelGrace: -1, HealthCheckAfter: -1, MaxSize: 1,
		Hooks: Hooks{PrepareConn: func(ctx context.Context, conn driver.Conn) (bool, error) {
			c := conn.(*stuckConn)
			inHook <- c
			_, err := c.ExecContext(ctx, "stuck", nil)
			return err == nil, err
		}}}
	m := startManager(t, cfg)
	acquired := make(chan error, 1)
	go func() {
		l, err := m.Acquire(context.Background(), tokens.SQLLogin())
		if err == nil {
			l.Release(nil)
		}
		acquired <- err
	}()
	c := <-inHook
	c.awaitEntered(t) // the hook's call, stuck

	var ce *CloseError
	require.ErrorAs(t, closeNow(t, m), &ce)
	assert.Equal(t, 1, ce.Forced, "the hook's lease was closed by force")
	assert.Equal(t, 1, ce.Closing, "its connection is reported still closing")
	assert.Zero(t, d.closes.Load(), "the connection was closed under the PrepareConn hook inside it")

	c.let() // the hook's call returns
	<-acquired
	awaitCloses(t, d, 1)
	require.Eventually(t, func() bool { return closingConns(m) == 0 }, 10*time.Second, time.Millisecond)
	assert.Zero(t, d.closedUnderCall.Load(), "closed under the hook")
	assert.EqualValues(t, 1, d.closes.Load(), "closed once")
}

// A PrepareConn hook does not start once a forced Close has begun: the
// Acquire fails with ErrClosed and the connection goes back to be closed.
func TestAPrepareConnHookDoesNotStartAfterAForcedClose(t *testing.T) {
	d := &stuckDialer{}
	ran := make(chan struct{}, 1)
	cfg := Config{Server: "stuck:1/db", Dialer: d, CancelGrace: -1, HealthCheckAfter: -1, MaxSize: 1,
		Hooks: Hooks{PrepareConn: func(context.Context, driver.Conn) (bool, error) {
			ran <- struct{}{}
			return true, nil
		}}}
	m := startManager(t, cfg)
	m.gate.force(nil) // what a forced Close does first
	l, _, err := m.acquire(context.Background(), tokens.SQLLogin())
	require.NoError(t, err)
	keep, err := m.prepare(context.Background(), l)
	assert.False(t, keep)
	require.ErrorIs(t, err, ErrClosed)
	select {
	case <-ran:
		t.Fatal("the hook ran after the forced Close began")
	default:
	}
	require.Eventually(t, func() bool { return d.closes.Load() == 1 }, 10*time.Second, time.Millisecond,
		"the connection was not handed back to be closed")
}

// The operation's CloseAfterOperation is the only thing that ever closes
// a connection a forced Close left to it: lost to a panic in the pool actor
// (here its Config.Clock, read as the actor takes each message), the
// connection would stay open, and counted closing, for good, and its pool
// would never drain.
func TestACloseAfterOperationLostToAPanicStillCloses(t *testing.T) {
	d, clock := &stuckDialer{}, &trapClock{secret: "not-for-logs"}
	m := newStuckManager(t, d, clock, -1)
	l, c := leaseOf(t, m)
	got := stuckExec(t, context.Background(), l, c)
	var ce *CloseError
	require.ErrorAs(t, closeNow(t, m), &ce)
	require.Equal(t, 1, ce.Closing)
	// The pool's closing goroutine has left the Close to the operation.
	require.Eventually(t, func() bool { return l.state.Load()&stCloseAfter != 0 }, 10*time.Second, time.Millisecond)
	clock.armed.Store(true) // the pool's next message is the operation's CloseAfterOperation
	c.let()
	require.NoError(t, <-got)
	awaitCloses(t, d, 1)
	require.Eventually(t, func() bool { return closingConns(m) == 0 }, 10*time.Second, time.Millisecond)
	assert.False(t, clock.armed.Load(), "the pool did not read the clock")
}
