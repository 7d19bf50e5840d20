package manager

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
