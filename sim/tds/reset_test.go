package tds_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTempTablesAreTheSessions: #name is the session's own table, as in SQL
// Server; ##name is shared.
func TestTempTablesAreTheSessions(t *testing.T) {
	srv := startServer(t)
	ctx := ctxT(t)
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	a, err := db.Conn(ctx)
	require.NoError(t, err)
	defer a.Close()
	b, err := db.Conn(ctx)
	require.NoError(t, err)
	defer b.Close()

	_, err = a.ExecContext(ctx, "CREATE TABLE #mine (id int); INSERT INTO #mine VALUES (1), (2)")
	require.NoError(t, err)
	assert.Equal(t, 2, count(t, ctx, a, "#mine"))
	_, err = b.ExecContext(ctx, "INSERT INTO [#mine] VALUES (3)")
	assert.ErrorContains(t, err, "Invalid object name '#mine'", "another session sees no #mine")
	_, err = b.ExecContext(ctx, "CREATE TABLE #mine (id int)")
	require.NoError(t, err, "each session has its own #mine")
	assert.Equal(t, 0, count(t, ctx, b, "#mine"))

	_, err = a.ExecContext(ctx, "CREATE TABLE ##shared (id int); INSERT INTO ##shared VALUES (1)")
	require.NoError(t, err)
	assert.Equal(t, 1, count(t, ctx, b, "##shared"))

	// Rows inserted in a transaction reach the temporary table on commit.
	_, err = a.ExecContext(ctx, "BEGIN TRAN; INSERT INTO #mine VALUES (3); COMMIT")
	require.NoError(t, err)
	assert.Equal(t, 3, count(t, ctx, a, "#mine"))
}

// TestResetConnectionDropsSessionState: a request carrying RESETCONNECTION
// (go-mssqldb sets it on the first request after database/sql reuses a
// connection) finds the session as sp_reset_connection leaves it: NOCOUNT
// off, temporary tables dropped, no transaction.
func TestResetConnectionDropsSessionState(t *testing.T) {
	srv := startServer(t)
	ctx := ctxT(t)
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	db.SetMaxOpenConns(1)
	_, err := db.ExecContext(ctx, "CREATE TABLE rows_t (id int)")
	require.NoError(t, err)

	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	var spid int
	require.NoError(t, conn.QueryRowContext(ctx, "SELECT @@SPID").Scan(&spid))
	_, err = conn.ExecContext(ctx, "SET NOCOUNT ON; CREATE TABLE #leak (id int); BEGIN TRAN")
	require.NoError(t, err)
	res, err := conn.ExecContext(ctx, "INSERT INTO rows_t VALUES (1)")
	require.NoError(t, err)
	n, err := res.RowsAffected()
	require.NoError(t, err)
	require.Zero(t, n, "NOCOUNT is on")
	assert.Equal(t, 0, count(t, ctx, conn, "#leak"))
	resets := srv.Resets()
	require.NoError(t, conn.Close())

	conn, err = db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	var tc, spid2 int
	require.NoError(t, conn.QueryRowContext(ctx, "SELECT @@TRANCOUNT, @@SPID").Scan(&tc, &spid2))
	require.Equal(t, spid, spid2, "same physical session")
	assert.Equal(t, resets+1, srv.Resets())
	assert.Zero(t, tc, "the transaction was rolled back")
	res, err = conn.ExecContext(ctx, "INSERT INTO rows_t VALUES (1)")
	require.NoError(t, err)
	n, err = res.RowsAffected()
	require.NoError(t, err)
	assert.EqualValues(t, 1, n, "NOCOUNT is off again")
	_, err = conn.ExecContext(ctx, "INSERT INTO #leak VALUES (1)")
	assert.ErrorContains(t, err, "Invalid object name '#leak'", "the temporary table was dropped")
	assert.Equal(t, 1, count(t, ctx, conn, "rows_t"), "only the insert after the reset")
}
