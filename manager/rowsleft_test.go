package manager

import (
	"context"
	"database/sql/driver"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A result set left open at Release is closed before its connection, as
// database/sql closes one: a driver may still be reading it in the
// background (go-mssqldb does, into a buffer its Conn.Close hands to the
// next connection). These tests use the stuck driver of cancelgrace_test.go,
// whose connections count a Close made with a result set still open.

func TestReleaseClosesAResultSetLeftOpenBeforeItsConnection(t *testing.T) {
	d := &stuckDialer{}
	m := newStuckManager(t, d, nil, -1)
	l, _ := leaseOf(t, m)
	rows, err := l.Conn().QueryContext(context.Background(), "SELECT n", nil)
	require.NoError(t, err)
	dest := make([]driver.Value, 1)
	require.NoError(t, rows.Next(dest))

	l.Release(nil)
	assert.EqualValues(t, 1, d.rowsCloses.Load(), "Release closed the result set left open")
	awaitCloses(t, d, 1)
	assert.Zero(t, d.closedUnderRows.Load(), "the connection was closed under an open result set")

	// The caller's late calls on it are refused by the guard, and close
	// nothing twice.
	require.ErrorIs(t, rows.Next(dest), ErrLeaseReleased)
	require.ErrorIs(t, rows.Close(), ErrLeaseReleased)
	assert.EqualValues(t, 1, d.rowsCloses.Load())

	// The pool serves on a new connection.
	l2, c2 := leaseOf(t, m)
	assert.Zero(t, c2.open.Load())
	l2.Release(nil)
	assert.EqualValues(t, 1, d.closes.Load(), "a clean lease keeps its connection")
}

// Every result set left open is closed, once; one the caller closed is not
// closed again.
func TestReleaseClosesEveryResultSetLeftOpenOnce(t *testing.T) {
	d := &stuckDialer{}
	m := newStuckManager(t, d, nil, -1)
	l, c := leaseOf(t, m)
	var sets []driver.Rows
	for range 3 {
		r, err := l.Conn().QueryContext(context.Background(), "SELECT n", nil)
		require.NoError(t, err)
		sets = append(sets, r)
	}
	require.NoError(t, sets[1].Close(), "the middle one, closed by the caller")
	require.EqualValues(t, 2, c.open.Load())
	l.Release(nil)
	assert.EqualValues(t, 3, d.rowsCloses.Load(), "three Closes in all, none twice")
	assert.Zero(t, c.open.Load())
	awaitCloses(t, d, 1)
	assert.Zero(t, d.closedUnderRows.Load())
}

// A driver whose result set's Close panics at Release: the panic goes no
// further, the connection is closed, and the pool serves on.
func TestAResultSetWhoseClosePanicsAtReleaseIsContained(t *testing.T) {
	d := &stuckDialer{}
	m := newStuckManager(t, d, nil, -1)
	l, _ := leaseOf(t, m)
	_, err := l.Conn().QueryContext(context.Background(), "SELECT n", nil)
	require.NoError(t, err)
	d.panicRowsClose.Store(true)
	require.NotPanics(t, func() { l.Release(nil) })
	assert.EqualValues(t, 1, d.rowsCloses.Load(), "Release reached the result set's Close")
	awaitCloses(t, d, 1)
	d.panicRowsClose.Store(false)
	l2, _ := leaseOf(t, m)
	l2.Release(nil)
}

// A result set whose Close is stuck at Release (the server stopped
// answering mid-reply) is bounded whatever its query's ctx: Release ends
// what the caller left unread, so CancelGrace after Release began closing
// it the transport is cut, once, and Release returns. With a query ctx
// that never ends (context.Background(), as many callers pass) nothing
// bounded it before: Release, and the lease's slot, stayed stuck for good.
func TestAResultSetStuckClosingAtReleaseIsCut(t *testing.T) {
	for _, c := range []struct {
		name  string
		ended bool // the query's ctx ends while the Close is stuck
	}{{"ctx never ends", false}, {"ctx ends meanwhile", true}} {
		t.Run(c.name, func(t *testing.T) {
			d, clock := &stuckDialer{}, newGraceClock()
			m := newStuckManager(t, d, clock, testGrace)
			l, conn := leaseOf(t, m)
			ctx, cancel := context.Background(), func() {}
			if c.ended {
				ctx, cancel = context.WithCancel(ctx)
			}
			defer cancel()
			_, err := l.Conn().QueryContext(ctx, "SELECT n", nil)
			require.NoError(t, err)
			d.stuckRowsClose.Store(true)
			released := make(chan struct{})
			go func() {
				defer close(released)
				l.Release(nil)
			}()
			conn.awaitEntered(t)
			clock.awaitGrace(t) // Release's, begun before the Close
			select {
			case <-released:
				t.Fatal("Release returned while the result set's Close was stuck")
			default:
			}
			if c.ended {
				cancel()
				clock.noGraceBegins(t, "the query's watch outlived Release's")
			}
			clock.advance(testGrace)
			select {
			case <-released:
			case <-time.After(10 * time.Second):
				t.Fatal("Release still stuck after the cut")
			}
			assert.EqualValues(t, 1, d.aborts.Load(), "the stuck Close was cut, once")
			awaitCloses(t, d, 1)
			assert.True(t, conn.cutBeforeClose.Load(), "cut, then closed")
		})
	}
}

// Release that gave up waiting for another goroutine's operation leaves
// the hand-back to that operation: when it returns, the result sets left
// open are closed before the connection is.
func TestAHandBackAfterAnOperationClosesTheResultSetsLeftOpen(t *testing.T) {
	d, clock := &stuckDialer{}, newGuardClock()
	m := newStuckManager(t, d, clock, -1)
	l, c := leaseOf(t, m)
	_, err := l.Conn().QueryContext(context.Background(), "SELECT n", nil)
	require.NoError(t, err)
	got := stuckExec(t, context.Background(), l, c)
	released := make(chan struct{})
	go func() {
		defer close(released)
		l.Release(nil)
	}()
	(<-clock.waits)() // Release gives up waiting for the stuck call
	<-released
	assert.Zero(t, d.rowsCloses.Load(), "nothing is closed under the running call")
	c.let()
	require.NoError(t, <-got)
	awaitCloses(t, d, 1)
	assert.EqualValues(t, 1, d.rowsCloses.Load())
	assert.Zero(t, d.closedUnderRows.Load())
}

// closeNow closes m with a ctx already ended: what is still leased is
// closed by force.
func closeNow(t *testing.T, m *Manager) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return m.Close(ctx)
}

// A forced Close cuts a leased connection's transport before its driver's
// Close: a reader still on it (go-mssqldb's, for a result set left open)
// fails its next read rather than read into memory the driver handed on.
func TestAForcedCloseCutsALeasedConnectionBeforeClosingIt(t *testing.T) {
	d := &stuckDialer{}
	m := newStuckManager(t, d, nil, testGrace)
	l, c := leaseOf(t, m)
	rows, err := l.Conn().QueryContext(context.Background(), "SELECT n", nil)
	require.NoError(t, err)
	var ce *CloseError
	require.ErrorAs(t, closeNow(t, m), &ce)
	assert.Equal(t, 1, ce.Forced)
	assert.EqualValues(t, 1, d.aborts.Load())
	awaitCloses(t, d, 1)
	assert.True(t, c.cutBeforeClose.Load(), "the connection was closed before its transport was cut")
	require.ErrorIs(t, rows.Next(make([]driver.Value, 1)), ErrLeaseForceClosed)
	l.Release(nil)
	assert.Zero(t, d.rowsCloses.Load(), "the driver's result set was touched after its connection was closed by force")
}

// An operation still running when a forced Close gives up on it fails
// at once on the cut, and the connection closes after it; a Dialer whose
// cut panics still has its connections closed.
func TestAForcedCloseCutsTheOperationRunningOnALease(t *testing.T) {
	for _, panics := range []bool{false, true} {
		d := &stuckDialer{panics: panics}
		m := newStuckManager(t, d, nil, testGrace)
		l, c := leaseOf(t, m)
		got := stuckExec(t, context.Background(), l, c)
		_ = closeNow(t, m)
		if panics {
			c.let()
		}
		select {
		case err := <-got:
			if !panics {
				require.ErrorIs(t, err, errTransportCut)
			}
		case <-time.After(10 * time.Second):
			c.let()
			t.Fatal("the operation still ran 10 s after a forced Close")
		}
		awaitCloses(t, d, 1)
		assert.EqualValues(t, 1, d.aborts.Load())
	}
}

// With CancelGrace off nothing is cut, a forced Close included.
func TestAForcedCloseWithCancelGraceOffCutsNothing(t *testing.T) {
	d := &stuckDialer{}
	m := newStuckManager(t, d, nil, -1)
	_, _ = leaseOf(t, m)
	_ = closeNow(t, m)
	awaitCloses(t, d, 1)
	assert.Zero(t, d.aborts.Load())
}

// A forced Close refuses new operations, then waits up to CloseGrace for
// those in flight before it closes what is leased. A lease released in that
// window with a result set left open leaves it to the forced Close (the
// gate refuses the Close of the result set, which could take long), and
// its connection goes back to a closing pool as any release: its transport
// is cut before the driver's Close all the same. (Found by review.)
func TestAReleaseDuringAForcedCloseCutsBeforeItsConnectionCloses(t *testing.T) {
	d := &stuckDialer{}
	m := startManager(t, Config{Server: "stuck:1/db", Dialer: d, CancelGrace: testGrace, HealthCheckAfter: -1, MaxSize: 2})
	busy, busyConn := leaseOf(t, m)
	l, c := leaseOf(t, m)
	_, err := l.Conn().QueryContext(context.Background(), "SELECT n", nil)
	require.NoError(t, err)

	// Another lease's operation keeps the forced Close waiting.
	got := stuckExec(t, context.Background(), busy, busyConn)
	closed := make(chan error, 1)
	go func() { closed <- closeNow(t, m) }()
	require.Eventually(t, m.gate.forced.Load, 10*time.Second, time.Millisecond)

	l.Release(nil)
	awaitCloses(t, d, 1)
	assert.Zero(t, d.rowsCloses.Load(), "the gate refused the result set's Close")
	assert.True(t, c.cutBeforeClose.Load(), "the connection was closed under its open result set without a cut")

	<-closed
	require.ErrorIs(t, <-got, errTransportCut)
	busy.Release(nil)
}

// When Release gave up waiting for an operation, the hand-back that
// operation owes closes the result sets left open on a goroutine of its
// own: the operation's caller returns when its own call does, not when
// another query's result set has closed. (Found by review.)
func TestAnOperationOwingTheHandBackIsNotHeldByAResultSetsClose(t *testing.T) {
	d, clock := &stuckDialer{rowsFree: make(chan struct{})}, newGuardClock()
	m := newStuckManager(t, d, clock, testGrace)
	l, c := leaseOf(t, m)
	freeRows := sync.OnceFunc(func() { close(d.rowsFree) })
	t.Cleanup(freeRows)                                                    // before the Manager's Close: cleanups run last first
	_, err := l.Conn().QueryContext(context.Background(), "SELECT n", nil) // its ctx never ends
	require.NoError(t, err)
	d.stuckRowsClose.Store(true)
	got := stuckExec(t, context.Background(), l, c)
	released := make(chan struct{})
	go func() {
		defer close(released)
		l.Release(nil)
	}()
	(<-clock.waits)() // Release gives up waiting for the running call
	<-released

	c.let() // the Exec's own call returns; the result set's Close stays stuck
	select {
	case err := <-got:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the operation's caller is held by another query's result set's Close")
	}
	c.awaitEntered(t) // the hand-back's Close of the result set, stuck
	assert.Zero(t, d.closes.Load(), "the connection closed under its result set")
	freeRows()
	awaitCloses(t, d, 1)
	assert.Zero(t, d.closedUnderRows.Load())
}

// A result set its caller closes after a forced Close ended its lease
// (refused) has its watch on its query's ctx removed then, not when that
// ctx ends. (Found by review.)
func TestAResultSetRefusedAfterAForcedCloseLeavesNoWatch(t *testing.T) {
	d, clock := &stuckDialer{}, newGraceClock()
	m := newStuckManager(t, d, clock, testGrace)
	l, _ := leaseOf(t, m)
	qctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rows, err := l.Conn().QueryContext(qctx, "SELECT n", nil)
	require.NoError(t, err)
	_ = closeNow(t, m)
	awaitCloses(t, d, 1)
	require.ErrorIs(t, rows.Close(), ErrLeaseForceClosed)
	cancel()
	clock.noGraceBegins(t, "the result set's watch outlived the forced Close and its Close")
	l.Release(nil)
}
