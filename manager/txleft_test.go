package manager

import (
	"context"
	"database/sql/driver"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/internal/syncbuf"
)

// Release rolls back a transaction its caller left open, and the driver
// waits for the rollback's answer under the transaction's BeginTx ctx
// (go-mssqldb and pgx's stdlib do), which may never end: with
// context.Background(), what most callers pass, and a server that stopped
// answering, Release held its caller, and the lease's slot, for good. The
// rollback is bounded as the Close of a result set left open is: CancelGrace
// from the moment Release begins it, whatever the BeginTx ctx, then the
// transport is cut, and the connection is closed. These tests use the stuck
// driver of cancelgrace_test.go, whose Rollback returns only once its
// transport is cut or the test lets it go.

// leftTxMsg is the line docs/OPERATIONS.md lists for the cut.
const leftTxMsg = "idpool: rolling back a transaction left open at Release took CancelGrace; cutting its connection"

// releaseStuckInRollback leases m's connection, leaves a transaction open
// on it, begun under ctx, and starts Release on a goroutine of its own
// (released closes when it returns). It returns once Release's rollback is
// stuck in the driver and a grace has begun for it. The rollback is let go
// when the test ends, before the Manager closes, so that a test that fails
// leaves no goroutine stuck behind it.
func releaseStuckInRollback(t *testing.T, ctx context.Context, m *Manager, clock *graceClock) (l *Lease, c *stuckConn, released <-chan struct{}) {
	t.Helper()
	l, c = leaseOf(t, m)
	t.Cleanup(c.let) // cleanups run last first: before the Manager's Close
	_, err := l.Conn().BeginTx(ctx, driver.TxOptions{})
	require.NoError(t, err)
	_, err = l.Conn().ExecContext(ctx, "INSERT 1", nil)
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Release(nil) // the transaction is still open: Release rolls it back
	}()
	c.awaitEntered(t)   // the rollback is stuck
	clock.awaitGrace(t) // Release's bound on it began
	return l, c, done
}

// stillRunning fails the test if done has closed.
func stillRunning(t *testing.T, done <-chan struct{}, why string) {
	t.Helper()
	select {
	case <-done:
		t.Fatal(why)
	default:
	}
}

// returned fails the test unless done closes within 10 s (real time, an
// upper bound only: what the test waits for is done).
func returned(t *testing.T, done <-chan struct{}, why string) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal(why)
	}
}

// A rollback stuck at Release is cut exactly when CancelGrace has passed
// since Release began it, not before, whatever its BeginTx ctx: one that
// never ends, and one that ends meanwhile (which starts no later bound of
// its own); with a Dialer whose calls are watched on their ctx
// (drivers/sqlserver's) and with a CtxBounded one (drivers/postgres's),
// which has no call watched.
func TestAReleaseStuckInTheRollbackOfATransactionLeftOpenIsCut(t *testing.T) {
	for _, bounded := range []bool{false, true} {
		for _, ended := range []bool{false, true} {
			name := map[bool]string{false: "watched calls", true: "CtxBounded"}[bounded] + "/" +
				map[bool]string{false: "ctx never ends", true: "ctx ends meanwhile"}[ended]
			t.Run(name, func(t *testing.T) {
				d, clock := &stuckDialer{}, newGraceClock()
				var dialer Dialer = d
				if bounded {
					dialer = ctxBoundedDialer{d}
				}
				var buf syncbuf.Buffer
				m := startManager(t, Config{Server: "stuck:1/db", Dialer: dialer, Clock: clock, CancelGrace: testGrace,
					HealthCheckAfter: -1, MaxSize: 1, Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
				ctx, cancel := context.Background(), func() {}
				if ended {
					ctx, cancel = context.WithCancel(ctx)
				}
				defer cancel()
				l, c, released := releaseStuckInRollback(t, ctx, m, clock)
				if ended {
					cancel()
					clock.noGraceBegins(t, "the BeginTx ctx's end started a bound of its own")
				}
				clock.advance(testGrace - time.Nanosecond)
				assert.Zero(t, d.aborts.Load(), "cut before CancelGrace had passed since Release")
				stillRunning(t, released, "Release returned while its rollback was stuck")
				clock.advance(time.Nanosecond)
				returned(t, released, "Release still stuck in the rollback after the cut")
				assert.EqualValues(t, 1, d.aborts.Load(), "the stuck rollback was cut, once")
				awaitCloses(t, d, 1)
				assert.True(t, c.cutBeforeClose.Load(), "cut, then closed")

				line := logLines(t, &buf)[leftTxMsg]
				require.NotNil(t, line, "the cut is logged as docs/OPERATIONS.md says")
				assert.Equal(t, "WARN", line["level"])
				assert.Equal(t, l.Key().Redacted(), line["pool"])
				assert.Contains(t, line, "conn")
				assert.EqualValues(t, testGrace, line["cancel_grace"])

				l2, c2 := leaseOf(t, m)
				defer l2.Release(nil)
				assert.NotSame(t, c, c2, "a cut connection never serves another lease")
			})
		}
	}
}

// A rollback at Release that the server answers within the grace is not
// cut, and its connection is kept for the next lease, as before.
func TestARollbackAtReleaseThatEndsWithinCancelGraceIsNotCut(t *testing.T) {
	d, clock := &stuckDialer{}, newGraceClock()
	m := newStuckManager(t, d, clock, testGrace)
	_, c, released := releaseStuckInRollback(t, context.Background(), m, clock)
	c.let() // the server answers in time
	returned(t, released, "Release did not return once its rollback had")
	clock.advance(2 * testGrace) // past the grace, well short of any idle or lifetime bound
	assert.Zero(t, d.aborts.Load(), "a rollback that had returned was cut")

	l2, c2 := leaseOf(t, m)
	defer l2.Release(nil)
	assert.Same(t, c, c2, "the rolled-back connection serves the next lease")
	assert.Zero(t, d.closes.Load())
}

// Release called again, from other goroutines too, while the first one is
// stuck in the rollback: the later calls return at once and change
// nothing; the first is cut once, at its grace, and the connection closed
// once.
func TestReleaseAgainDuringAStuckRollbackReturnsAndCutsOnce(t *testing.T) {
	d, clock := &stuckDialer{}, newGraceClock()
	m := newStuckManager(t, d, clock, testGrace)
	l, c, released := releaseStuckInRollback(t, context.Background(), m, clock)
	var again sync.WaitGroup
	for range 4 {
		again.Go(func() {
			l.Release(nil)
			_ = l.Close()
		})
	}
	done := make(chan struct{})
	go func() { again.Wait(); close(done) }()
	returned(t, done, "a later Release waited for the stuck rollback")
	stillRunning(t, released, "the first Release returned while its rollback was stuck")
	assert.Zero(t, d.aborts.Load())

	clock.advance(testGrace)
	returned(t, released, "Release still stuck in the rollback after the cut")
	assert.EqualValues(t, 1, d.aborts.Load(), "cut once")
	awaitCloses(t, d, 1)
	clock.noGraceBegins(t, "a later Release began a bound of its own")
	l2, c2 := leaseOf(t, m)
	defer l2.Release(nil)
	assert.NotSame(t, c, c2)
	assert.EqualValues(t, 1, d.closes.Load(), "closed once")
}

// A forced Close while Release is stuck in the rollback: the forced Close
// cuts the leased connection as it does any (the pool has not had it
// back), the rollback fails at once, Release returns before its own grace,
// and the bound it began cuts nothing more when that grace passes.
func TestAForcedCloseDuringAStuckRollbackAtRelease(t *testing.T) {
	d, clock := &stuckDialer{}, newGraceClock()
	var buf syncbuf.Buffer
	m := newStuckManager(t, d, clock, testGrace, slog.New(slog.NewJSONHandler(&buf, nil)))
	_, _, released := releaseStuckInRollback(t, context.Background(), m, clock)
	var ce *CloseError
	require.ErrorAs(t, closeNow(t, m), &ce)
	assert.Equal(t, 1, ce.Forced, "the lease in Release was closed by force")
	returned(t, released, "Release still stuck in the rollback after a forced Close")
	assert.EqualValues(t, 1, d.aborts.Load(), "the forced Close cut the transport")
	awaitCloses(t, d, 1)

	clock.advance(time.Hour)
	assert.EqualValues(t, 1, d.aborts.Load(), "Release's bound cut after Release had returned")
	assert.NotContains(t, buf.String(), leftTxMsg)
	assert.EqualValues(t, 1, d.closes.Load(), "closed once")
}
