package tds_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// trancount is the session's @@TRANCOUNT.
func trancount(t *testing.T, ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) int {
	t.Helper()
	var n int
	require.NoError(t, q.QueryRowContext(ctx, "SELECT @@TRANCOUNT").Scan(&n))
	return n
}

// TestSavepoints: SAVE TRANSACTION sets a savepoint, and ROLLBACK
// TRANSACTION with its name undoes only the work done after it, leaving the
// transaction open and @@TRANCOUNT as it was (ROLLBACK TRANSACTION, Microsoft
// Learn). The simulator refused SAVE TRANSACTION as a syntax error, and took
// ROLLBACK TRANSACTION <savepoint> for a rollback of the whole transaction.
func TestSavepoints(t *testing.T) {
	sess := newAliceSession(t)
	srv, conn, ctx := sess.srv, sess.conn, sess.ctx
	var err error
	exec := func(q string, args ...any) {
		t.Helper()
		_, err := conn.ExecContext(ctx, q, args...)
		require.NoError(t, err, q)
	}
	exec("CREATE TABLE t (id int)")

	exec("BEGIN TRAN; INSERT INTO t VALUES (1); SAVE TRAN sp1; INSERT INTO t VALUES (2)")
	exec("SAVE TRANSACTION sp2; INSERT INTO t VALUES (3), (4)")
	assert.Equal(t, 4, count(t, ctx, conn, "t"))
	exec("ROLLBACK TRANSACTION sp2")
	assert.Equal(t, 2, count(t, ctx, conn, "t"), "the rows after sp2 are undone")
	assert.Equal(t, 1, trancount(t, ctx, conn), "a rollback to a savepoint keeps @@TRANCOUNT")
	assert.True(t, srv.Sessions()[0].InTx)
	exec("ROLLBACK TRAN sp1")
	assert.Equal(t, 1, count(t, ctx, conn, "t"))
	// The savepoint outlives a rollback to it.
	exec("INSERT INTO t VALUES (5); ROLLBACK TRAN sp1")
	assert.Equal(t, 1, count(t, ctx, conn, "t"))
	exec("INSERT INTO t VALUES (6); COMMIT")
	rows, _ := srv.CommittedRows("t")
	assert.Equal(t, int64(2), rows, "the commit publishes what no savepoint rollback undid")

	// Duplicate names: a rollback goes back to the most recent one
	// (SAVE TRANSACTION, Microsoft Learn).
	exec("BEGIN TRAN; SAVE TRAN dup; INSERT INTO t VALUES (7); SAVE TRAN dup; INSERT INTO t VALUES (8); ROLLBACK TRAN dup")
	assert.Equal(t, 3, count(t, ctx, conn, "t"))
	exec("ROLLBACK TRAN dup")
	assert.Equal(t, 3, count(t, ctx, conn, "t"), "the newer dup is still there")
	exec("ROLLBACK")
	assert.Equal(t, 2, count(t, ctx, conn, "t"))
	assert.Equal(t, 0, trancount(t, ctx, conn))

	// Nested BEGINs: a savepoint rollback leaves @@TRANCOUNT alone; an
	// unnamed ROLLBACK still ends everything.
	exec("BEGIN TRAN; SAVE TRAN s; BEGIN TRAN; INSERT INTO t VALUES (9); ROLLBACK TRAN s")
	assert.Equal(t, 2, trancount(t, ctx, conn))
	assert.Equal(t, 2, count(t, ctx, conn, "t"))
	exec("ROLLBACK")
	assert.Equal(t, 0, trancount(t, ctx, conn))

	// The outermost BEGIN's name rolls the whole transaction back.
	exec("BEGIN TRAN outer_tx; INSERT INTO t VALUES (10); SAVE TRAN s; ROLLBACK TRAN outer_tx")
	assert.Equal(t, 0, trancount(t, ctx, conn))
	assert.False(t, srv.Sessions()[0].InTx)
	assert.Equal(t, 2, count(t, ctx, conn, "t"))

	// Names from variables (here sp_executesql parameters), and quoted.
	// A variable's name counts its first 32 characters only (SAVE
	// TRANSACTION, Microsoft Learn).
	exec("BEGIN TRAN")
	exec("SAVE TRAN @sp; INSERT INTO t VALUES (11)", sql.Named("sp", "from_var_0123456789_0123456789_0123456789"))
	exec("ROLLBACK TRAN [from_var_0123456789_0123456789_0]")
	assert.Equal(t, 2, count(t, ctx, conn, "t"))
	exec("ROLLBACK TRAN")

	// No transaction: error 628, nothing changes.
	_, err = conn.ExecContext(ctx, "SAVE TRAN nowhere")
	requireSQLError(t, err, 628)
	assert.Equal(t, 0, trancount(t, ctx, conn))
}

// TestSavepointInDatabaseSQLTx: a savepoint inside database/sql's Tx, which
// go-mssqldb began with a TM request: the rollback to it sends no ENVCHANGE,
// so the driver keeps its transaction descriptor and the Tx commits.
func TestSavepointInDatabaseSQLTx(t *testing.T) {
	srv := startServer(t)
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	ctx := ctxT(t)
	_, err := db.ExecContext(ctx, "CREATE TABLE t (id int)")
	require.NoError(t, err)
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	for _, q := range []string{"INSERT INTO t VALUES (1)", "SAVE TRAN before_two", "INSERT INTO t VALUES (2)", "ROLLBACK TRAN before_two"} {
		_, err := tx.ExecContext(ctx, q)
		require.NoError(t, err, q)
	}
	assert.Equal(t, 1, count(t, ctx, tx, "t"))
	assert.Equal(t, 1, trancount(t, ctx, tx))
	require.NoError(t, tx.Commit())
	rows, _ := srv.CommittedRows("t")
	assert.Equal(t, int64(1), rows)
}

// TestSavepointLimit: a transaction keeps at most 1,024 savepoints, each a
// copy of its pending rows; the next SAVE TRANSACTION gets error 50000 and
// the transaction, savepoints included, is kept.
func TestSavepointLimit(t *testing.T) {
	sess := newAliceSession(t)
	conn, ctx := sess.conn, sess.ctx
	var err error
	_, err = conn.ExecContext(ctx, "CREATE TABLE t (id int); BEGIN TRAN"+strings.Repeat("; SAVE TRAN s", 1024))
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, "SAVE TRAN one_more")
	requireSQLError(t, err, 50000)
	_, err = conn.ExecContext(ctx, "INSERT INTO t VALUES (1); ROLLBACK TRAN s")
	require.NoError(t, err)
	assert.Equal(t, 0, count(t, ctx, conn, "t"))
	assert.Equal(t, 1, trancount(t, ctx, conn))
}
