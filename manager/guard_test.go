package manager

import (
	"context"
	"database/sql/driver"
	"errors"
	"testing"
	"time"
	"unsafe"

	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// uses is how many driver calls reached conn id.
func uses(t *testing.T, mem *memdb.DB, id int64) int {
	t.Helper()
	info, ok := mem.Conn(id)
	require.True(t, ok)
	return info.Uses
}

// awaitUses waits until conn id has seen at least n driver calls.
func awaitUses(t *testing.T, mem *memdb.DB, id int64, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, mem.Await(ctx, func() bool { info, _ := mem.Conn(id); return info.Uses >= n }))
}

func TestReleasedLeaseNeverReachesItsConnection(t *testing.T) {
	m, mem := newManager(t, Config{MaxSize: 1, HealthCheckAfter: -1})
	ctx := context.Background()
	alice := identity("alice")
	a := acquire(t, m, alice)
	c := a.Conn()
	st, err := c.PrepareContext(ctx, "INSERT t")
	require.NoError(t, err)
	tx, err := c.BeginTx(ctx, driverTxOptions())
	require.NoError(t, err)
	rows, err := c.QueryContext(ctx, "SELECT 1", nil)
	require.NoError(t, err)
	require.NoError(t, rows.Close())
	require.NoError(t, tx.Commit())
	rows, err = c.QueryContext(ctx, "SELECT 1", nil)
	require.NoError(t, err)
	require.NoError(t, rows.Close())
	id := connID(a)
	a.Release(nil)

	// The same physical connection now serves b, inside a transaction.
	b := acquire(t, m, alice)
	require.Equal(t, id, connID(b))
	btx, err := b.Conn().BeginTx(ctx, driverTxOptions())
	require.NoError(t, err)
	_, err = b.Conn().ExecContext(ctx, "INSERT t", nil)
	require.NoError(t, err)
	before := uses(t, mem, id)

	stale := map[string]error{}
	_, stale["Conn.ExecContext"] = c.ExecContext(ctx, "INSERT t", nil)
	_, stale["Conn.QueryContext"] = c.QueryContext(ctx, "SELECT 1", nil)
	_, stale["Conn.PrepareContext"] = c.PrepareContext(ctx, "INSERT t")
	_, stale["Conn.BeginTx"] = c.BeginTx(ctx, driverTxOptions())
	stale["Conn.Ping"] = c.Ping(ctx)
	//lint:ignore SA1019 the deprecated paths must be guarded too
	_, stale["Stmt.Exec"] = st.Exec(nil)
	//lint:ignore SA1019 the deprecated paths must be guarded too
	_, stale["Stmt.Query"] = st.Query(nil)
	_, stale["Stmt.ExecContext"] = st.(driver.StmtExecContext).ExecContext(ctx, nil)
	_, stale["Stmt.QueryContext"] = st.(driver.StmtQueryContext).QueryContext(ctx, nil)
	stale["Stmt.Close"] = st.Close()
	stale["Tx.Commit"] = tx.Commit()
	stale["Tx.Rollback"] = tx.Rollback()
	stale["Lease.WithRaw"] = a.WithRaw(ctx, func(driver.Conn) error { return nil })
	for call, err := range stale {
		assert.ErrorIs(t, err, ErrLeaseReleased, call)
		assert.NotContains(t, err.Error(), "token", call)
	}
	reset := c.ResetSession(ctx)
	assert.ErrorIs(t, reset, driver.ErrBadConn, "database/sql must discard it")
	assert.ErrorIs(t, reset, ErrLeaseReleased)
	assert.False(t, c.IsValid())
	assert.Equal(t, before, uses(t, mem, id), "a released lease's calls reached the connection")

	require.NoError(t, btx.Commit())
	assert.Equal(t, 1, mem.CommittedRows("t"), "only b's insert landed")
	b.Release(nil)
	a.Release(nil) // a second Release does nothing
	assert.Equal(t, 1, m.Stats().Total.Idle)
}

func TestUseAfterForcedCloseNeverTouchesTheDriverConn(t *testing.T) {
	mem := memdb.New()
	m, err := New(Config{Server: "memdb:1/forced", Dialer: mem, MaxSize: 1, HealthCheckAfter: -1})
	require.NoError(t, err)
	l := acquire(t, m, identity("alice"))
	rows := query(t, l, "SELECT 1")
	id := connID(l)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	var forced *ForcedCloseError
	require.ErrorAs(t, m.Close(done), &forced)
	assert.Equal(t, 1, forced.Forced)
	before := uses(t, mem, id)

	_, err = l.Conn().ExecContext(context.Background(), "INSERT t", nil)
	assert.ErrorIs(t, err, ErrLeaseForceClosed)
	assert.ErrorIs(t, err, ErrLeaseReleased)
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, rows.Next(make([]driver.Value, 1)), ErrLeaseForceClosed)
	assert.ErrorIs(t, l.Conn().Ping(context.Background()), ErrLeaseForceClosed)
	assert.False(t, l.Conn().IsValid())
	l.Release(nil)
	assert.ErrorIs(t, rows.Close(), ErrLeaseReleased)
	assert.Equal(t, before, uses(t, mem, id))
	assert.Zero(t, mem.Misuse(), "misuse: %v", mem.Misuses())
	assert.Zero(t, mem.OpenNow())
}

func TestTwoGoroutinesOnOneLeaseGetErrLeaseBusy(t *testing.T) {
	m, mem := newManager(t, Config{MaxSize: 1, HealthCheckAfter: -1})
	l := acquire(t, m, identity("alice"))
	id := connID(l)
	ctx, cancel := context.WithCancel(context.Background())
	slow := make(chan error, 1)
	n := uses(t, mem, id)
	go func() {
		_, err := l.Conn().ExecContext(ctx, "SLEEP 1h", nil)
		slow <- err
	}()
	awaitUses(t, mem, id, n+1) // the SLEEP is on the wire
	c := l.Conn()
	bg := context.Background()
	busy := map[string]error{}
	_, busy["ExecContext"] = c.ExecContext(bg, "SELECT 1", nil)
	_, busy["QueryContext"] = c.QueryContext(bg, "SELECT 1", nil)
	_, busy["PrepareContext"] = c.PrepareContext(bg, "SELECT 1")
	_, busy["BeginTx"] = c.BeginTx(bg, driverTxOptions())
	busy["Ping"] = c.Ping(bg)
	for call, err := range busy {
		assert.ErrorIs(t, err, ErrLeaseBusy, call)
	}
	assert.ErrorIs(t, c.ResetSession(bg), driver.ErrBadConn)
	assert.False(t, c.IsValid())
	cancel()
	require.ErrorIs(t, <-slow, context.Canceled)
	l.Release(nil)
	assert.Zero(t, mem.Misuse(), "a second call reached the connection: %v", mem.Misuses())
}

// releaseInBackground starts l.Release and returns a channel closed when it
// returns, once Release is waiting on its bounded wait (fire).
func releaseInBackground(t *testing.T, l *Lease, clock *guardClock) (returned chan struct{}, fire func()) {
	t.Helper()
	returned = make(chan struct{})
	go func() { l.Release(nil); close(returned) }()
	select {
	case fire = <-clock.waits:
	case <-time.After(5 * time.Second):
		t.Fatal("Release did not wait for the operation in flight")
	}
	select {
	case <-returned:
		t.Fatal("Release returned while an operation was in flight")
	default:
	}
	return returned, fire
}

func TestReleaseDuringAnOperationWaitsForIt(t *testing.T) {
	clock := newGuardClock()
	m, mem := newManager(t, Config{MaxSize: 1, HealthCheckAfter: -1, Clock: clock})
	l := acquire(t, m, identity("alice"))
	id := connID(l)
	tx, err := l.Conn().BeginTx(context.Background(), driverTxOptions())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	slow := make(chan error, 1)
	n := uses(t, mem, id)
	go func() {
		_, err := l.Conn().ExecContext(ctx, "SLEEP 1h", nil)
		slow <- err
	}()
	awaitUses(t, mem, id, n+1)
	returned, _ := releaseInBackground(t, l, clock)
	resets := func() int { info, _ := mem.Conn(id); return info.Resets }
	assert.Zero(t, resets())
	cancel() // the operation ends within the bound
	require.ErrorIs(t, <-slow, context.Canceled)
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		// The fake clock never ends Release's wait: only the operation,
		// as it leaves, can wake it.
		t.Fatal("Release did not return once the operation it waited for had ended")
	}
	eventually(t, func() bool { return m.Stats().Total.Closes["broken"] == 1 }, "cut short, so broken and closed")
	assert.Zero(t, resets(), "never reset underneath the query")
	assert.ErrorIs(t, tx.Rollback(), ErrLeaseReleased)
}

func TestReleaseGivesUpOnAnOperationThatOutlastsTheBoundAndBreaksTheConnection(t *testing.T) {
	clock := newGuardClock()
	m, mem := newManager(t, Config{MaxSize: 1, HealthCheckAfter: -1, Clock: clock})
	l := acquire(t, m, identity("alice"))
	id := connID(l)
	_, err := l.Conn().BeginTx(context.Background(), driverTxOptions())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	slow := make(chan error, 1)
	n := uses(t, mem, id)
	go func() {
		_, err := l.Conn().ExecContext(ctx, "SLEEP 1h", nil)
		slow <- err
	}()
	awaitUses(t, mem, id, n+1)
	returned, fire := releaseInBackground(t, l, clock)
	fire() // OperationWait passes
	<-returned
	info, _ := mem.Conn(id)
	assert.True(t, info.InTx, "not rolled back underneath the query")
	assert.Zero(t, info.Resets, "not reset underneath the query")
	assert.False(t, info.Closed, "not closed underneath the query")
	assert.Equal(t, 1, m.Stats().Total.Busy, "the operation in flight still holds the connection")

	cancel()
	require.ErrorIs(t, <-slow, context.Canceled)
	eventually(t, func() bool { return m.Stats().Total.Closes["broken"] == 1 }, "handed back broken when the operation returned")
	// The pool counts the close when it decides it; the driver's Close runs
	// off the mailbox after that.
	eventually(t, func() bool { info, _ := mem.Conn(id); return info.Closed }, "the connection is closed")
	info, _ = mem.Conn(id)
	assert.Zero(t, info.Resets)
}

func TestReleaseWithAResultSetOpenClosesTheConnectionInsteadOfResetting(t *testing.T) {
	m, mem := newManager(t, Config{MaxSize: 1, HealthCheckAfter: -1})
	l := acquire(t, m, identity("alice"))
	id := connID(l)
	rows := query(t, l, "SELECT 1")
	l.Release(nil)
	assert.ErrorIs(t, rows.Next(make([]driver.Value, 1)), ErrLeaseReleased)
	eventually(t, func() bool { return m.Stats().Total.Closes["broken"] == 1 }, "closed, not reset")
	info, _ := mem.Conn(id)
	assert.Zero(t, info.Resets)
}

func TestGuardErrorsNameTheMisuse(t *testing.T) {
	for _, err := range []error{ErrLeaseReleased, ErrLeaseBusy, ErrIdentityMismatch, ErrLeaseForceClosed,
		errHandoverOtherIdentity, errHandoverReleased, errShellParked} {
		assert.NotEqual(t, driver.ErrBadConn.Error(), err.Error())
		assert.Contains(t, err.Error(), "idpool: ")
	}
	assert.True(t, errors.Is(errHandoverOtherIdentity, driver.ErrBadConn) && errors.Is(errHandoverOtherIdentity, ErrIdentityMismatch))
	assert.False(t, errors.Is(ErrIdentityMismatch, driver.ErrBadConn), "a bound call's mismatch must not make database/sql drop the *sql.Conn")
}

func TestAcquireReleaseStillAllocatesOnlyTheLease(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	m, _ := newManager(t, Config{MaxSize: 1, HealthCheckAfter: -1})
	assert.LessOrEqual(t, hitAllocs(t, m, identity("alice")), 1.0)
}

// The guard's state lives in the Lease, the acquire's one allocation; it
// must not push the Lease into a larger size class.
func TestLeaseStaysWithinTheAcquiresSizeClass(t *testing.T) {
	assert.LessOrEqual(t, unsafe.Sizeof(Lease{}), uintptr(256))
}

// TestLeaseCheckIdentity: the identity rule of the guard, as a driver
// package calls it: the lease's identity and no identity pass, another
// identity is refused by name, and an invalid one is refused with its
// reason.
func TestLeaseCheckIdentity(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 1})
	l := acquire(t, m, identity("alice"))
	defer l.Release(nil)
	assert.NoError(t, l.CheckIdentity(as("alice")))
	assert.NoError(t, l.CheckIdentity(context.Background()), "a ctx with no identity runs on the lease")
	assert.ErrorIs(t, l.CheckIdentity(as("bob")), ErrIdentityMismatch)
	assert.ErrorIs(t, l.CheckIdentity(tokens.WithIdentity(context.Background(), tokens.Identity{})), tokens.ErrInvalidIdentity)
}
