package tds_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func count(t *testing.T, ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, table string) int {
	t.Helper()
	var n int
	require.NoError(t, q.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n))
	return n
}

func TestBeginTxCommitRollback(t *testing.T) {
	srv := startServer(t)
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	ctx := ctxT(t)
	_, err := db.ExecContext(ctx, "CREATE TABLE t (id int)")
	require.NoError(t, err)

	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	var tc int
	require.NoError(t, tx.QueryRowContext(ctx, "SELECT @@TRANCOUNT").Scan(&tc))
	assert.Equal(t, 1, tc)
	require.True(t, srv.Sessions()[0].InTx)
	res, err := tx.ExecContext(ctx, "INSERT INTO t VALUES (1), (2)")
	require.NoError(t, err)
	n, err := res.RowsAffected()
	require.NoError(t, err)
	assert.Equal(t, int64(2), n)
	assert.Equal(t, 2, count(t, ctx, tx, "t"), "a transaction sees its own rows")
	rows, _ := srv.CommittedRows("t")
	assert.Equal(t, int64(0), rows)
	require.NoError(t, tx.Commit())
	assert.Equal(t, 2, count(t, ctx, db, "t"))
	assert.False(t, srv.Sessions()[0].InTx)

	tx, err = db.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, "INSERT INTO dbo.T VALUES (3)")
	require.NoError(t, err)
	require.NoError(t, tx.Rollback())
	assert.Equal(t, 2, count(t, ctx, db, "t"))
	rows, ok := srv.CommittedRows("[dbo].[t]")
	assert.True(t, ok)
	assert.Equal(t, int64(2), rows)
}

func TestBatchTransactions(t *testing.T) {
	srv := startServer(t)
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	ctx := ctxT(t)
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, "CREATE TABLE t (id int); BEGIN TRAN; INSERT INTO t VALUES (1)")
	require.NoError(t, err)
	var tc int
	require.NoError(t, conn.QueryRowContext(ctx, "SELECT @@TRANCOUNT").Scan(&tc))
	assert.Equal(t, 1, tc)
	_, err = conn.ExecContext(ctx, "BEGIN TRANSACTION inner_tx")
	require.NoError(t, err)
	require.NoError(t, conn.QueryRowContext(ctx, "SELECT @@TRANCOUNT").Scan(&tc))
	assert.Equal(t, 2, tc, "BEGIN TRAN nests")
	_, err = conn.ExecContext(ctx, "COMMIT")
	require.NoError(t, err)
	rows, _ := srv.CommittedRows("t")
	assert.Equal(t, int64(0), rows, "an inner COMMIT publishes nothing")
	_, err = conn.ExecContext(ctx, "COMMIT TRANSACTION")
	require.NoError(t, err)
	rows, _ = srv.CommittedRows("t")
	assert.Equal(t, int64(1), rows)

	_, err = conn.ExecContext(ctx, "BEGIN TRAN INSERT INTO t DEFAULT VALUES ROLLBACK")
	require.NoError(t, err)
	assert.Equal(t, 1, count(t, ctx, conn, "t"))

	_, err = conn.ExecContext(ctx, "COMMIT")
	requireSQLError(t, err, 3902)
	_, err = conn.ExecContext(ctx, "ROLLBACK TRAN")
	requireSQLError(t, err, 3903)
	_, err = conn.ExecContext(ctx, "IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION")
	require.NoError(t, err, "the guarded rollback is a no-op outside a transaction")

	// A transaction begun in a batch and then used via database/sql's Tx
	// machinery still ends cleanly.
	tx, err := conn.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, "INSERT INTO t VALUES (@p1)", 7)
	require.NoError(t, err)
	require.NoError(t, tx.Commit())
	assert.Equal(t, 2, count(t, ctx, conn, "t"))
}

func TestUncommittedRowsInvisibleToOtherSessions(t *testing.T) {
	srv := startServer(t)
	ctx := ctxT(t)
	a := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	b := openTokenDB(t, srv, mintToken(t, testKey, "bob", timeInAnHour()))
	_, err := a.ExecContext(ctx, "CREATE TABLE shared (id int)")
	require.NoError(t, err)
	_, err = b.ExecContext(ctx, "INSERT INTO shared VALUES (1)")
	require.NoError(t, err)

	tx, err := a.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, "INSERT INTO shared VALUES (2), (3)")
	require.NoError(t, err)
	assert.Equal(t, 3, count(t, ctx, tx, "shared"))
	assert.Equal(t, 1, count(t, ctx, b, "shared"), "another session must not see uncommitted rows")

	btx, err := b.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = btx.ExecContext(ctx, "INSERT INTO shared VALUES (4)")
	require.NoError(t, err)
	assert.Equal(t, 2, count(t, ctx, btx, "shared"))
	require.NoError(t, btx.Rollback())

	require.NoError(t, tx.Commit())
	assert.Equal(t, 3, count(t, ctx, b, "shared"))
}

func TestResetConnectionRollsBack(t *testing.T) {
	srv := startServer(t)
	ctx := ctxT(t)
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	db.SetMaxOpenConns(1)
	_, err := db.ExecContext(ctx, "CREATE TABLE t (id int)")
	require.NoError(t, err)

	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, "BEGIN TRAN; INSERT INTO t VALUES (1)")
	require.NoError(t, err)
	var spid int
	require.NoError(t, conn.QueryRowContext(ctx, "SELECT @@SPID").Scan(&spid))
	require.True(t, srv.Sessions()[0].InTx)
	resets := srv.Resets()
	// Returning the conn to database/sql's pool leaves the transaction open on
	// the server; the next checkout's request carries RESETCONNECTION.
	require.NoError(t, conn.Close())

	var tc, spid2 int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT @@TRANCOUNT, @@SPID").Scan(&tc, &spid2))
	assert.Equal(t, spid, spid2, "same physical session")
	assert.Equal(t, 0, tc)
	assert.Equal(t, resets+1, srv.Resets())
	assert.False(t, srv.Sessions()[0].InTx)
	assert.Equal(t, 0, count(t, ctx, db, "t"), "the reset rolled the insert back")
	assert.Equal(t, 1, srv.TotalLogins())
}
