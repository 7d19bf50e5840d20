package postgres_test

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/manager"
)

// TestPoolQueryErrorReachesRowsErr: pgx's idiom ignores Query's error and
// reads it from the Rows (rows, _ := pool.Query(...); pgx.CollectRows(rows,
// ...)), as pgx.Conn.Query and pgxpool promise: the Rows of a query that
// failed report that failure. The Pool's Query releases its lease at once
// when the query fails; the Rows it returned used to go on asking the lease
// guard, which then refused, so Err reported manager.ErrLeaseReleased in
// place of the server's error.
func TestPoolQueryErrorReachesRowsErr(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 1})
	ctx := as(t, e.alice)

	rows, qerr := e.pool.Query(ctx, "SELECT id FROM no_such_table")
	require.Error(t, qerr)
	assert.Zero(t, e.busy(), "the failed query's lease came back")
	got, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	assert.Empty(t, got)
	require.Error(t, err)
	assert.ErrorContains(t, err, "no_such_table", "Rows.Err is the query's error")
	assert.NotErrorIs(t, err, manager.ErrLeaseReleased)
	assert.Equal(t, qerr.Error(), rows.Err().Error())
	assert.Zero(t, e.busy())
}
