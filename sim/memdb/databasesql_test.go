package memdb_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/memdb"
)

func TestThroughDatabaseSQL(t *testing.T) {
	ctx := context.Background()
	mem := memdb.New()
	db := sql.OpenDB(mem.Connector("x"))
	defer db.Close()

	var one int64
	require.NoError(t, db.QueryRowContext(ctx, "SELECT 1").Scan(&one))
	assert.Equal(t, int64(1), one)
	var who string
	require.NoError(t, db.QueryRowContext(ctx, "SELECT IDENTITY").Scan(&who))
	assert.Equal(t, "x", who)
	_, err := db.ExecContext(ctx, "INSERT t", 42, "args are ignored")
	require.NoError(t, err)

	// Committed transaction.
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, "INSERT t")
	require.NoError(t, err)
	var n int64
	require.NoError(t, tx.QueryRowContext(ctx, "SELECT COUNT t").Scan(&n))
	assert.Equal(t, int64(2), n)
	// Another conn does not see the pending row.
	require.NoError(t, db.QueryRowContext(ctx, "SELECT COUNT t").Scan(&n))
	assert.Equal(t, int64(1), n)
	require.NoError(t, tx.Commit())
	assert.Equal(t, 2, mem.CommittedRows("t"))

	// Rolled back transaction.
	tx, err = db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, "INSERT t")
	require.NoError(t, err)
	require.NoError(t, tx.Rollback())
	assert.Equal(t, 2, mem.CommittedRows("t"))

	// Prepared statements.
	st, err := db.PrepareContext(ctx, "SELECT COUNT t")
	require.NoError(t, err)
	require.NoError(t, st.QueryRowContext(ctx).Scan(&n))
	assert.Equal(t, int64(2), n)
	require.NoError(t, st.Close())
	_, err = db.PrepareContext(ctx, "DROP TABLE t")
	require.ErrorIs(t, err, memdb.ErrUnsupported)

	require.NoError(t, db.PingContext(ctx))
	require.NoError(t, db.Close())
	assert.Equal(t, 0, mem.OpenNow())
	assert.Equal(t, 0, mem.Misuse())
	for _, c := range mem.Conns() {
		assert.Equal(t, "x", c.Identity)
		assert.Equal(t, 1, c.CloseCount)
	}
}

func TestDatabaseSQLDiscardsBrokenConns(t *testing.T) {
	ctx := context.Background()
	mem := memdb.New()
	db := sql.OpenDB(mem.Connector("x"))
	defer db.Close()
	db.SetMaxOpenConns(1)

	require.NoError(t, db.PingContext(ctx))
	require.Equal(t, 1, mem.Opened())

	// A query cancelled mid-way breaks its conn; database/sql must not reuse it.
	qctx, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
	defer cancel()
	_, err := db.ExecContext(qctx, "SLEEP 1h")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NoError(t, db.PingContext(ctx))
	require.Equal(t, 2, mem.Opened(), "the broken conn was replaced")

	// A killed conn is found bad on its next use and replaced transparently.
	mem.KillAll()
	var one int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT 1").Scan(&one))
	assert.Equal(t, 3, mem.Opened())

	require.NoError(t, db.Close())
	assert.Equal(t, 0, mem.OpenNow())
	assert.Equal(t, 0, mem.Misuse())
	conns := mem.Conns()
	assert.True(t, conns[0].Dead)
	assert.Equal(t, 1, conns[0].Cancels)
	assert.True(t, conns[1].Dead)
	assert.False(t, conns[2].Dead)
}

func TestDatabaseSQLResetsSessionsOnReuse(t *testing.T) {
	ctx := context.Background()
	mem := memdb.New()
	db := sql.OpenDB(mem.Connector("x"))
	defer db.Close()
	db.SetMaxOpenConns(1)

	// A dirty checkout: a sql.Conn left inside a transaction started by a
	// statement. database/sql resets the session before the next user.
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, "BEGIN")
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, "INSERT t")
	require.NoError(t, err)
	require.NoError(t, conn.Close())

	var n int64
	require.NoError(t, db.QueryRowContext(ctx, "SELECT COUNT t").Scan(&n))
	assert.Equal(t, int64(0), n, "the next user does not inherit the open transaction")
	info, ok := mem.Conn(1)
	require.True(t, ok)
	assert.Equal(t, 1, info.Resets)
	assert.False(t, info.InTx)
	assert.Equal(t, 1, mem.Opened())

	// A failing reset makes database/sql drop the conn when it is ErrBadConn.
	mem.SetResetError(driver.ErrBadConn)
	_, err = db.ExecContext(ctx, "INSERT t")
	require.NoError(t, err)
	mem.SetResetError(nil)
	assert.Equal(t, 2, mem.Opened())
	require.NoError(t, db.Close())
	assert.Equal(t, 0, mem.Misuse())
}

func TestDatabaseSQLConcurrentLoadIsClean(t *testing.T) {
	ctx := context.Background()
	mem := memdb.New()
	db := sql.OpenDB(mem.Connector("x"))
	defer db.Close()
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4) // so that no connection is closed and reopened: Opened counts every open
	const workers, each = 8, 50
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				tx, err := db.BeginTx(ctx, nil)
				if !assert.NoError(t, err) {
					return
				}
				_, err = tx.ExecContext(ctx, "INSERT t")
				assert.NoError(t, err)
				assert.NoError(t, tx.Commit())
			}
		})
	}
	wg.Wait()
	require.NoError(t, db.Close())
	assert.Equal(t, workers*each, mem.CommittedRows("t"))
	assert.LessOrEqual(t, mem.Opened(), 4)
	assert.Equal(t, 0, mem.OpenNow())
	assert.Equal(t, 0, mem.Misuse(), "%v", mem.Misuses())
}

func TestRegisteredDriver(t *testing.T) {
	mem := memdb.New()
	name := fmt.Sprintf("memdb-test-%p", mem) // a driver name registers once per process
	sql.Register(name, mem.Driver())
	db, err := sql.Open(name, "bob")
	require.NoError(t, err)
	var who string
	require.NoError(t, db.QueryRow("SELECT IDENTITY").Scan(&who))
	assert.Equal(t, "bob", who)
	require.NoError(t, db.Close())
	assert.Equal(t, 0, mem.OpenNow())
}
