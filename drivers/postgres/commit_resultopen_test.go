package postgres_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/manager"
)

// TestACommitWhileATransactionsRowsAreOpenLeavesItOpen: a Commit made while
// a result of the transaction is still open used to reach pgx, which
// answered "conn busy" and closed the connection, so the transaction's work
// was rolled back by a Commit whose error did not say why. The Commit is
// now refused with an error naming the open result and the transaction
// goes on: once the Rows are closed, Commit commits (and, for the Pool's
// transaction, releases the lease). A Rollback is still never refused: it
// ends the transaction however it can.
func TestACommitWhileATransactionsRowsAreOpenLeavesItOpen(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 1})
	ctx := as(t, e.alice)
	_, err := e.pool.Exec(ctx, "CREATE TABLE kept (a int)")
	require.NoError(t, err)

	tx, err := e.pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "INSERT INTO kept VALUES (1)")
	require.NoError(t, err)
	rows, err := tx.Query(ctx, "SELECT generate_series(1, 2)")
	require.NoError(t, err)
	require.True(t, rows.Next())

	err = tx.Commit(ctx)
	if assert.Error(t, err) {
		assert.Contains(t, err.Error(), "still open")
	}
	require.True(t, rows.Next(), "the Rows read on")
	require.False(t, rows.Next())
	require.NoError(t, rows.Err())
	require.NoError(t, tx.Commit(ctx), "the transaction went on")
	assert.Equal(t, 0, e.busy(), "the Pool's Commit released the lease")
	var n int
	require.NoError(t, e.pool.QueryRow(ctx, "SELECT count(*) FROM kept").Scan(&n))
	assert.Equal(t, 1, n, "the transaction's insert was committed")

	// A Rollback with its Rows still open ends the transaction and hands
	// the lease back, as before.
	tx, err = e.pool.Begin(ctx)
	require.NoError(t, err)
	rows, err = tx.Query(ctx, "SELECT generate_series(1, 2)")
	require.NoError(t, err)
	require.True(t, rows.Next())
	_ = tx.Rollback(ctx)
	assert.Equal(t, 0, e.busy(), "the Pool's Rollback released the lease")
	rows.Close()
}
