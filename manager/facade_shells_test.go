package manager

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/sim/memdb"
)

// With SetMaxIdleConns raised, the facade's *sql.DB keeps idle shells
// (connections that hold no lease), so that database/sql does not create and
// close a connection, and prepare every *sql.Stmt again, for each call.

// openShellFacade is the facade with idle shells kept.
func openShellFacade(t *testing.T, m *Manager) *sql.DB {
	db := openFacade(t, m)
	db.SetMaxIdleConns(8)
	return db
}

func TestFacadeReusesOneShellForCallsOfEveryIdentity(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 1})
	db := openShellFacade(t, m)
	for i, name := range []string{"alice", "bob", "alice", "carol", "bob"} {
		var who string
		require.NoError(t, db.QueryRowContext(as(name), "SELECT IDENTITY").Scan(&who))
		assert.Equal(t, "test:"+name, who, "call %d ran as its own identity", i)
		assert.Zero(t, m.Stats().Total.Busy, "the idle shell holds no lease")
	}
	assert.Equal(t, sql.DBStats{OpenConnections: 1, Idle: 1}, db.Stats(), "one shell served every call")
	assert.Equal(t, 3, m.Stats().Pools)
}

func TestFacadeConnFromAnIdleShellBelongsToItsCtxIdentity(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 1})
	db := openShellFacade(t, m)
	require.NoError(t, db.PingContext(as("bob")))
	require.Equal(t, 1, db.Stats().Idle, "an idle shell, last used by bob")

	conn, err := db.Conn(as("alice"))
	require.NoError(t, err)
	defer conn.Close()
	assert.Equal(t, 1, m.Stats().Total.Busy, "the *sql.Conn holds alice's lease from the start")
	var who string
	require.NoError(t, conn.QueryRowContext(context.Background(), "SELECT IDENTITY").Scan(&who))
	assert.Equal(t, "test:alice", who, "a call with no identity runs as the *sql.Conn's")
	err = conn.QueryRowContext(as("bob"), "SELECT IDENTITY").Scan(&who)
	assert.ErrorIs(t, err, ErrIdentityMismatch, "another identity is refused, not run as bob")
}

func TestFacadeStmtOnSharedShellsRunsAsEachCallersIdentity(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 2})
	db := openShellFacade(t, m)
	stmt, err := db.PrepareContext(as("alice"), "SELECT IDENTITY")
	require.NoError(t, err)
	defer stmt.Close()
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				name := fmt.Sprint("user", (g+i)%5)
				var who string
				if err := stmt.QueryRowContext(as(name), 0).Scan(&who); err != nil {
					t.Error(err)
					return
				}
				if who != "test:"+name {
					t.Errorf("ran as %s, wanted %s", who, name)
					return
				}
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, m.Stats().Total.Busy, "a prepared statement pins no lease to an idle shell")
	st := db.Stats()
	assert.Equal(t, st.OpenConnections, st.Idle)
	assert.Zero(t, st.MaxIdleClosed, "no shell was closed")
}

// TestFacadeShellClosesItsStatementsBeforeGivingItsLeaseBack: what a
// *sql.Stmt prepared on a lease's connection is closed before the lease goes
// back, so no statement of one lease is left on a connection the pool gives
// to another.
func TestFacadeShellClosesItsStatementsBeforeGivingItsLeaseBack(t *testing.T) {
	var open atomic.Int64
	m, _ := newManager(t, Config{Dialer: stmtCountingDialer{memdb.New(), &open}, MaxSize: 1})
	db := openShellFacade(t, m)
	stmt, err := db.PrepareContext(as("alice"), "SELECT IDENTITY")
	require.NoError(t, err)
	assert.Zero(t, open.Load(), "prepared, run nowhere yet: closed as the lease went back")
	for _, name := range []string{"alice", "bob", "alice"} {
		var who string
		require.NoError(t, stmt.QueryRowContext(as(name)).Scan(&who))
		assert.Equal(t, "test:"+name, who)
		assert.Zero(t, open.Load(), "the statement was closed before the lease went back")
	}
	tx, err := db.BeginTx(as("bob"), nil)
	require.NoError(t, err)
	var who string
	require.NoError(t, tx.StmtContext(as("bob"), stmt).QueryRowContext(context.Background()).Scan(&who))
	assert.Equal(t, "test:bob", who, "inside a transaction the statement runs on its lease")
	assert.EqualValues(t, 1, open.Load(), "prepared on the transaction's lease while it is held")
	require.NoError(t, tx.Commit())
	assert.Zero(t, open.Load())
	require.NoError(t, stmt.Close())
	assert.Zero(t, m.Stats().Total.Busy)
}

// TestFacadeHandoverAcquiresOnce: database/sql would acquire up to three
// times if a failed bind at a hand-over answered driver.ErrBadConn; the
// failure is the call's own error, from one acquire.
func TestFacadeHandoverAcquiresOnce(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 1})
	db := openShellFacade(t, m)
	require.NoError(t, db.PingContext(as("alice")))
	require.Equal(t, 1, db.Stats().Idle)
	held := acquire(t, m, identity("alice")) // alice's only connection
	defer held.Release(nil)

	before := m.Stats().Total
	ctx, cancel := context.WithTimeout(as("alice"), 20*time.Millisecond)
	defer cancel()
	var who string
	err := db.QueryRowContext(ctx, "SELECT IDENTITY").Scan(&who)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	after := m.Stats().Total
	assert.Equal(t, before.Acquires+1, after.Acquires, "one acquire for one call")
	assert.Equal(t, 1, db.Stats().Idle, "the shell was kept, not discarded and replaced")
}

// TestFacadeIdleShellKeptPastItsConnIsRefused: a careless caller keeps the
// driver connection of a *sql.Conn it closed; database/sql keeps that shell
// idle. Until database/sql hands it to a call, the kept handle is refused
// and takes no lease.
func TestFacadeIdleShellKeptPastItsConnIsRefused(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 1})
	db := openShellFacade(t, m)
	c, err := db.Conn(as("alice"))
	require.NoError(t, err)
	var dc *Conn
	require.NoError(t, c.Raw(func(raw any) error { dc = raw.(*Conn); return nil }))
	require.NoError(t, c.Close())
	require.Equal(t, 1, db.Stats().Idle, "the shell is kept idle")
	_, err = dc.ExecContext(as("alice"), "SELECT 1", nil)
	require.ErrorIs(t, err, ErrLeaseReleased)
	st, err := dc.PrepareContext(as("alice"), "SELECT 1")
	if err == nil {
		_, err = st.(driver.StmtExecContext).ExecContext(as("alice"), nil)
	}
	require.ErrorIs(t, err, ErrLeaseReleased)
	assert.Zero(t, m.Stats().Total.Busy, "no lease taken by the kept handle")

	var who string
	require.NoError(t, db.QueryRowContext(as("bob"), "SELECT IDENTITY").Scan(&who), "database/sql's own use of the shell still works")
	assert.Equal(t, "test:bob", who)
}

// stmtCountingDialer dials memdb connections whose prepared statements are
// counted while open.
type stmtCountingDialer struct {
	db   *memdb.DB
	open *atomic.Int64
}

func (d stmtCountingDialer) Dial(ctx context.Context, req actors.DialRequest) (driver.Conn, error) {
	c, err := d.db.Dial(ctx, req)
	if err != nil {
		return nil, err
	}
	return &stmtCountingConn{Conn: c.(*memdb.Conn), open: d.open}, nil
}

type stmtCountingConn struct {
	*memdb.Conn
	open *atomic.Int64
}

func (c *stmtCountingConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *stmtCountingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	s, err := c.Conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.open.Add(1)
	return &countedStmt{inner: s, open: c.open}, nil
}

type countedStmt struct {
	inner  driver.Stmt
	open   *atomic.Int64
	closed bool
}

func (s *countedStmt) Close() error {
	if !s.closed {
		s.closed = true
		s.open.Add(-1)
	}
	return s.inner.Close()
}
func (s *countedStmt) NumInput() int { return s.inner.NumInput() }
func (s *countedStmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.inner.Exec(args) //lint:ignore SA1019 forwarding
}
func (s *countedStmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.inner.Query(args) //lint:ignore SA1019 forwarding
}
func (s *countedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.inner.(driver.StmtExecContext).ExecContext(ctx, args)
}
func (s *countedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.inner.(driver.StmtQueryContext).QueryContext(ctx, args)
}

// TestFacadeShellReusedWithoutAResetIsRetriedNotFailed: database/sql puts
// back a connection without marking it for reset when a waiting call gave
// up on it (putConn(..., false)), and may then hand it on without calling
// ResetSession. Such a connection is one database/sql's opener made (with
// a ctx of its own) and no call used: the shell reports itself invalid, so
// database/sql discards it, rather than park it and refuse the next taker
// (a *sql.Conn's first call, which database/sql never retries; see
// TestFacadeConnGivenUpByAWaitingCallServesItsNextTaker). A shell parked
// after serving a call is refused as a kept handle, and ResetSession
// un-parks it.
func TestFacadeShellReusedWithoutAResetIsRetriedNotFailed(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 1})
	connector := NewConnector(m, WithDefaultIdentity(identity("alice")))
	conn, err := connector.Connect(context.Background())
	require.NoError(t, err)
	c := conn.(*Conn)
	require.False(t, c.IsValid(), "made by the opener and handed back unused: database/sql discards it")
	require.NoError(t, c.Close())
	assert.Zero(t, m.Stats().Total.Busy, "its lease went back with it")

	conn, err = connector.Connect(context.Background())
	require.NoError(t, err)
	c = conn.(*Conn)
	rows, err := c.QueryContext(as("alice"), "SELECT IDENTITY", nil)
	require.NoError(t, err)
	require.NoError(t, rows.Close())
	require.True(t, c.IsValid(), "served a call: the shell gives its lease back")
	assert.Zero(t, m.Stats().Total.Busy)
	_, err = c.QueryContext(as("alice"), "SELECT IDENTITY", nil)
	require.ErrorIs(t, err, driver.ErrBadConn, "database/sql retries on another connection")
	require.ErrorIs(t, err, ErrLeaseReleased)
	assert.Zero(t, m.Stats().Total.Busy, "no lease taken")

	require.NoError(t, c.ResetSession(as("alice")), "a hand-over un-parks it")
	rows, err = c.QueryContext(as("alice"), "SELECT IDENTITY", nil)
	require.NoError(t, err)
	require.NoError(t, rows.Close())
	require.NoError(t, c.Close())
}

// TestFacadeKeptHandleAfterAHandOverNeverRunsAsAnotherIdentity: the cost of
// idle shells (why OpenDB keeps none by default): once database/sql hands a
// shell to another call, a driver connection kept past its *sql.Conn is that
// call's shell. The guard still refuses it any other identity than the
// lease's.
func TestFacadeKeptHandleAfterAHandOverNeverRunsAsAnotherIdentity(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 1})
	db := openShellFacade(t, m)
	c, err := db.Conn(as("alice"))
	require.NoError(t, err)
	var kept *Conn
	require.NoError(t, c.Raw(func(raw any) error { kept = raw.(*Conn); return nil }))
	require.NoError(t, c.Close())

	bobs, err := db.Conn(as("bob"))
	require.NoError(t, err)
	defer bobs.Close()
	var same bool
	require.NoError(t, bobs.Raw(func(raw any) error { same = raw.(*Conn) == kept; return nil }))
	require.True(t, same, "database/sql handed the one idle shell to bob")
	_, err = kept.QueryContext(as("alice"), "SELECT IDENTITY", nil)
	require.ErrorIs(t, err, ErrIdentityMismatch, "alice's kept handle never runs on bob's session")
	var who string
	require.NoError(t, bobs.QueryRowContext(as("bob"), "SELECT IDENTITY").Scan(&who))
	assert.Equal(t, "test:bob", who)
}
