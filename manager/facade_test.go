package manager

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func openFacade(t *testing.T, m *Manager, opts ...FacadeOption) *sql.DB {
	db := OpenDB(m, opts...)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func as(name string) context.Context {
	return tokens.WithIdentity(context.Background(), identity(name))
}

func TestFacadeRunsEachCallAsTheIdentityInItsContext(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 2})
	db := openFacade(t, m)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				name := fmt.Sprint("user", (g*7+i)%20)
				var got string
				if err := db.QueryRowContext(as(name), "SELECT IDENTITY").Scan(&got); err != nil {
					t.Error(err)
					return
				}
				if got != "test:"+name {
					t.Errorf("ran as %s, wanted %s", got, name)
					return
				}
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 20, m.Stats().Pools)
	assert.Equal(t, 0, db.Stats().Idle, "database/sql keeps nothing idle")
}

func TestFacadeRefusesCallsWithoutIdentityUnlessADefaultIsSet(t *testing.T) {
	m, _ := newManager(t, Config{})
	db := openFacade(t, m)
	var who string
	err := db.QueryRowContext(context.Background(), "SELECT IDENTITY").Scan(&who)
	assert.ErrorIs(t, err, tokens.ErrNoIdentity)

	withDefault := openFacade(t, m, WithDefaultIdentity(identity("svc")))
	var got string
	require.NoError(t, withDefault.QueryRowContext(context.Background(), "SELECT IDENTITY").Scan(&got))
	assert.Equal(t, "test:svc", got)
}

func TestFacadeAbandonedTransactionNeverLeaksToTheNextUser(t *testing.T) {
	m, mem := newManager(t, Config{MaxSize: 1})
	db := openFacade(t, m)
	ctxA, cancelA := context.WithCancel(as("alice"))
	tx, err := db.BeginTx(ctxA, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctxA, "INSERT t")
	require.NoError(t, err)
	assert.Equal(t, 1, m.Stats().Total.Busy, "a transaction pins its lease")
	cancelA() // abandoned: database/sql rolls back and closes
	eventually(t, func() bool { return m.Stats().Total.Busy == 0 }, "lease back")

	var n int
	require.NoError(t, db.QueryRowContext(as("alice"), "SELECT COUNT t").Scan(&n))
	assert.Zero(t, n, "uncommitted insert invisible to the next user")

	tx, err = db.BeginTx(as("alice"), nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(as("alice"), "INSERT t")
	require.NoError(t, err)
	require.NoError(t, tx.Commit())
	require.NoError(t, db.QueryRowContext(as("alice"), "SELECT COUNT t").Scan(&n))
	assert.Equal(t, 1, n)
	assert.Equal(t, 2, mem.Opened(), "a transaction abandoned by cancelling its ctx retires its connection")
}

func TestFacadeBadConnectionIsEvictedAndTheCallRetried(t *testing.T) {
	m, mem := newManager(t, Config{MaxSize: 1, HealthCheckAfter: -1})
	db := openFacade(t, m)
	require.NoError(t, db.PingContext(as("alice")))
	mem.KillAll()
	var one int
	require.NoError(t, db.QueryRowContext(as("alice"), "SELECT 1").Scan(&one), "database/sql retries ErrBadConn on a new connection")
	assert.Equal(t, 2, mem.Opened())
	assert.EqualValues(t, 1, m.Stats().Total.Closes["broken"])
}

func TestFacadeNeverRunsACallOnAnotherIdentitysHandedOffConnection(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 1})
	db := openFacade(t, m)
	db.SetMaxOpenConns(1) // lets database/sql hand a connection from caller to caller
	tx, err := db.BeginTx(as("alice"), nil)
	require.NoError(t, err)
	got := make(chan string, 1)
	go func() {
		var who string
		err := db.QueryRowContext(as("bob"), "SELECT IDENTITY").Scan(&who)
		if err != nil {
			who = err.Error()
		}
		got <- who
	}()
	eventually(t, func() bool { return db.Stats().WaitCount == 1 }, "bob waits in database/sql")
	require.NoError(t, tx.Commit()) // hands alice's connection to bob's request
	select {
	case who := <-got:
		assert.Equal(t, "test:bob", who)
	case <-time.After(5 * time.Second):
		t.Fatal("bob never answered")
	}
}

func TestFacadeForwardsEveryOptionalInterface(t *testing.T) {
	spy := newSpy()
	m, err := New(Config{Server: "spy:1/x", Dialer: DialerFunc(func(context.Context, DialRequest) (driver.Conn, error) { return spy, nil }), MaxSize: 1, HealthCheckAfter: -1})
	require.NoError(t, err)
	defer func() { require.NoError(t, m.Close(context.Background())) }()
	db := openFacade(t, m)
	ctx := as("alice")
	_, err = db.ExecContext(ctx, "x", sql.Named("a", 1))
	require.NoError(t, err)
	rows, err := db.QueryContext(ctx, "x")
	require.NoError(t, err)
	require.NoError(t, rows.Close())
	stmt, err := db.PrepareContext(ctx, "x")
	require.NoError(t, err)
	require.NoError(t, stmt.Close())
	tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
	require.NoError(t, err)
	require.NoError(t, tx.Rollback())
	require.NoError(t, db.PingContext(ctx))
	l, err := m.Acquire(ctx, identity("alice"))
	require.NoError(t, err)
	require.NoError(t, l.Conn().ResetSession(ctx))
	assert.True(t, l.Conn().IsValid())
	l.Release(nil)
	for _, name := range []string{"ExecContext", "QueryContext", "PrepareContext", "BeginTx", "CheckNamedValue", "Ping", "ResetSession", "IsValid"} {
		assert.Positive(t, spy.count(name), "%s not forwarded", name)
	}
	assert.Zero(t, spy.count("Prepare")+spy.count("Begin"), "context-free fallbacks unused")
}

func TestFacadeFallsBackLikeDatabaseSQLForABareDriverConn(t *testing.T) {
	spy := newSpy()
	m, err := New(Config{Server: "bare:1/x", Dialer: DialerFunc(func(context.Context, DialRequest) (driver.Conn, error) { return bareConn{spy}, nil }), MaxSize: 1, HealthCheckAfter: -1})
	require.NoError(t, err)
	defer func() { require.NoError(t, m.Close(context.Background())) }()
	db := openFacade(t, m)
	ctx := as("alice")
	var x int
	require.NoError(t, db.QueryRowContext(ctx, "x").Scan(&x))
	_, err = db.ExecContext(ctx, "x")
	require.NoError(t, err)
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	require.NoError(t, tx.Commit())
	_, err = db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	assert.Error(t, err, "read-only needs ConnBeginTx, as in database/sql")
	require.NoError(t, db.PingContext(ctx))
	assert.Equal(t, 2, spy.count("Prepare"))
	assert.Equal(t, 1, spy.count("Begin"))
}

// stmtOnlyConn is a driver conn without QueryerContext/ExecerContext, like
// go-mssqldb: database/sql runs everything through prepared statements.
type stmtOnlyConn struct{ c *memdb.Conn }

func (s stmtOnlyConn) Prepare(q string) (driver.Stmt, error) {
	return s.c.PrepareContext(context.Background(), q)
}
func (s stmtOnlyConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	return s.c.PrepareContext(ctx, q)
}
func (s stmtOnlyConn) BeginTx(ctx context.Context, o driver.TxOptions) (driver.Tx, error) {
	return s.c.BeginTx(ctx, o)
}
func (s stmtOnlyConn) Begin() (driver.Tx, error) {
	return s.BeginTx(context.Background(), driver.TxOptions{})
}
func (s stmtOnlyConn) Close() error { return s.c.Close() }

// Like go-mssqldb after an ATTENTION round trip, the driver itself still
// calls the connection good; only the pool's own rule (cut short = broken)
// retires it.
func (c stmtOnlyConn) IsValid() bool                      { return true }
func (c stmtOnlyConn) ResetSession(context.Context) error { return nil }

func TestFacadeStatementCutShortBreaksItsConnection(t *testing.T) {
	mem := memdb.New()
	m, err := New(Config{Server: "stmt:1/x", MaxSize: 1, HealthCheckAfter: -1, Dialer: DialerFunc(func(ctx context.Context, req DialRequest) (driver.Conn, error) {
		c, err := mem.Dial(ctx, req)
		if err != nil {
			return nil, err
		}
		return stmtOnlyConn{c.(*memdb.Conn)}, nil
	})})
	require.NoError(t, err)
	defer func() { require.NoError(t, m.Close(context.Background())) }()
	db := openFacade(t, m)
	ctx, cancel := context.WithCancel(as("alice"))
	go func() {
		// Cut the statement short once it runs (memdb counts it as it
		// starts), not after a guess at how long that takes.
		_ = mem.Await(context.Background(), func() bool {
			for _, c := range mem.Conns() {
				if c.Queries > 0 {
					return true
				}
			}
			return false
		})
		cancel()
	}()
	_, err = db.ExecContext(ctx, "SLEEP 5s")
	require.ErrorIs(t, err, context.Canceled)
	eventually(t, func() bool { return m.Stats().Total.Closes["broken"] == 1 }, "the statement's connection is closed")
	var one int
	require.NoError(t, db.QueryRowContext(as("alice"), "SELECT 1").Scan(&one))
	assert.Equal(t, 2, mem.Opened())
}
