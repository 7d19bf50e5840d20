package e2e

import (
	"context"
	"database/sql/driver"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/manager"
)

// leaseRowsAffected runs a statement on a leased connection and returns its
// rows-affected count.
func leaseRowsAffected(ctx context.Context, l *manager.Lease, q string) (int64, error) {
	res, err := l.Conn().ExecContext(ctx, q, nil)
	if errors.Is(err, driver.ErrSkip) {
		var stmt driver.Stmt
		if stmt, err = l.Conn().PrepareContext(ctx, q); err != nil {
			return 0, err
		}
		defer stmt.Close()
		res, err = stmt.(driver.StmtExecContext).ExecContext(ctx, nil)
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// TestMSSQLResetThroughLease: session state a lease leaves on a SQL Server
// connection (NOCOUNT, a temporary table) is gone for the next lease of the
// same session: Release has go-mssqldb flag RESETCONNECTION, and sim/tds
// resets as sp_reset_connection does. A transaction opened in SQL that the
// lease cannot roll back is not left open in the pool until that reset
// (with its locks, on SQL Server): Release closes its session.
func TestMSSQLResetThroughLease(t *testing.T) {
	env := startMSSQL(t)
	id := env.managedIdentity(t, "reset")
	db := env.openManager(t, manager.Config{MaxSize: 1}, nil)
	ctx := testCtx(t, 30*time.Second)

	l := acquire(t, ctx, db.Manager, id.ID)
	spid, err := leaseQuery(ctx, l, "SELECT @@SPID")
	require.NoError(t, err)
	require.NoError(t, leaseExec(ctx, l, "CREATE TABLE shared_t (id int)"))
	require.NoError(t, leaseExec(ctx, l, "SET NOCOUNT ON; CREATE TABLE #leak (id int)"))
	n, err := leaseRowsAffected(ctx, l, "INSERT INTO shared_t VALUES (1)")
	require.NoError(t, err)
	require.Zero(t, n, "NOCOUNT is on")
	l.Release(nil)

	l = acquire(t, ctx, db.Manager, id.ID)
	spid2, err := leaseQuery(ctx, l, "SELECT @@SPID")
	require.NoError(t, err)
	require.Equal(t, spid, spid2, "the same session")
	n, err = leaseRowsAffected(ctx, l, "INSERT INTO shared_t VALUES (2)")
	require.NoError(t, err)
	assert.EqualValues(t, 1, n, "NOCOUNT crossed the release")
	err = leaseExec(ctx, l, "INSERT INTO #leak VALUES (1)")
	assert.ErrorContains(t, err, "Invalid object name '#leak'", "the temporary table crossed the release")
	require.NoError(t, leaseExec(ctx, l, "BEGIN TRAN"))
	_, err = leaseRowsAffected(ctx, l, "INSERT INTO shared_t VALUES (3)")
	require.NoError(t, err)
	tc, err := leaseQuery(ctx, l, "SELECT @@TRANCOUNT")
	require.NoError(t, err)
	require.EqualValues(t, 1, tc)
	l.Release(nil)
	assert.EqualValues(t, 1, db.Manager.Stats().Total.Opens)

	l = acquire(t, ctx, db.Manager, id.ID)
	spid3, err := leaseQuery(ctx, l, "SELECT @@SPID")
	require.NoError(t, err)
	assert.NotEqual(t, spid, spid3, "the session left in a transaction was kept")
	tc, err = leaseQuery(ctx, l, "SELECT @@TRANCOUNT")
	require.NoError(t, err)
	assert.EqualValues(t, 0, tc, "the transaction crossed the release")
	rows, err := leaseQuery(ctx, l, "SELECT COUNT(*) FROM shared_t")
	require.NoError(t, err)
	assert.EqualValues(t, 2, rows, "the uncommitted insert was rolled back")
	l.Release(nil)
	assert.EqualValues(t, 2, db.Manager.Stats().Total.Opens)
}
