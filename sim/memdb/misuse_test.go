package memdb_test

import (
	"context"
	"database/sql/driver"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/memdb"
)

func TestDoubleClose(t *testing.T) {
	db := memdb.New()
	c := dial(t, db, "", "")
	require.NoError(t, c.Close())
	require.ErrorIs(t, c.Close(), memdb.ErrConnClosed)
	require.ErrorIs(t, c.Close(), memdb.ErrConnClosed)
	info := c.Info()
	assert.True(t, info.Closed)
	assert.Equal(t, 3, info.CloseCount)
	assert.Equal(t, 2, db.Misuse())
	assert.Equal(t, 0, db.OpenNow(), "only the first Close counts as a close")
	assert.Equal(t, []memdb.MisuseRecord{
		{ConnID: 1, Kind: memdb.DoubleClose, Op: "Close"},
		{ConnID: 1, Kind: memdb.DoubleClose, Op: "Close"},
	}, db.Misuses())
	assert.Equal(t, "conn 1: double close in Close", db.Misuses()[0].String())
}

func TestUseAfterCloseFailsAndIsRecorded(t *testing.T) {
	ctx := context.Background()
	db := memdb.New()
	c := dial(t, db, "", "")
	st, err := c.PrepareContext(ctx, "SELECT 1")
	require.NoError(t, err)
	tx, err := c.BeginTx(ctx, driver.TxOptions{})
	require.NoError(t, err)
	usesBefore := c.Info().Uses
	require.NoError(t, c.Close())

	ops := []struct {
		op  string
		run func() error
	}{
		{"Ping", func() error { return c.Ping(ctx) }},
		{"ResetSession", func() error { return c.ResetSession(ctx) }},
		{"Query", func() error { _, err := c.QueryContext(ctx, "SELECT 1", nil); return err }},
		{"Exec", func() error { _, err := c.ExecContext(ctx, "INSERT t", nil); return err }},
		{"BeginTx", func() error { _, err := c.BeginTx(ctx, driver.TxOptions{}); return err }},
		{"BeginTx", func() error { _, err := c.Begin(); return err }},
		{"Prepare", func() error { _, err := c.Prepare("SELECT 1"); return err }},
		{"Commit", tx.Commit},
		{"Rollback", tx.Rollback},
		{"Query", func() error {
			_, err := st.(driver.StmtQueryContext).QueryContext(ctx, nil)
			return err
		}},
		//lint:ignore SA1019 the old API must fail too
		{"Exec", func() error { _, err := st.Exec(nil); return err }},
	}
	for i, o := range ops {
		require.ErrorIs(t, o.run(), memdb.ErrConnClosed, o.op)
		require.Equal(t, i+1, db.Misuse(), o.op)
		assert.Equal(t, memdb.MisuseRecord{ConnID: 1, Kind: memdb.UseAfterClose, Op: o.op}, db.Misuses()[i])
	}
	assert.False(t, c.IsValid())
	assert.Equal(t, len(ops)+1, db.Misuse())
	assert.Equal(t, memdb.UseAfterClose, db.Misuses()[len(ops)].Kind)
	assert.Equal(t, 0, db.CommittedRows("t"))
	info := c.Info()
	assert.Equal(t, usesBefore, info.Uses, "calls after close are misuse, not uses")
	assert.Equal(t, 0, info.Pings+info.Resets+info.Validates)
}

func TestConcurrentUseIsDetected(t *testing.T) {
	db := memdb.New()
	c := dial(t, db, "", "")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.ExecContext(ctx, "SLEEP 1h", nil)
		errc <- err
	}()
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	require.NoError(t, db.Await(wctx, func() bool { return c.Info().Queries == 1 }))

	require.ErrorIs(t, c.Ping(context.Background()), memdb.ErrConcurrentUse)
	_, err := c.QueryContext(context.Background(), "SELECT 1", nil)
	require.ErrorIs(t, err, memdb.ErrConcurrentUse)
	assert.False(t, c.IsValid())
	assert.Equal(t, 3, db.Misuse())
	assert.Equal(t, memdb.MisuseRecord{ConnID: 1, Kind: memdb.ConcurrentUse, Op: "Ping"}, db.Misuses()[0])
	assert.Equal(t, "Query", db.Misuses()[1].Op)
	assert.Equal(t, "IsValid", db.Misuses()[2].Op)
	info := c.Info()
	assert.Equal(t, 0, info.Pings, "the refused calls did not run")
	assert.Equal(t, 1, info.Queries)

	// Closing under a running call is misuse too, but the conn is closed.
	require.NoError(t, c.Close())
	assert.Equal(t, 4, db.Misuse())
	assert.Equal(t, memdb.MisuseRecord{ConnID: 1, Kind: memdb.ConcurrentUse, Op: "Close"}, db.Misuses()[3])
	assert.Equal(t, 0, db.OpenNow())

	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	assert.True(t, c.Info().Closed)
}

func TestHealthyUseRecordsNoMisuse(t *testing.T) {
	db := memdb.New()
	c := dial(t, db, "", "")
	ctx := context.Background()
	require.NoError(t, c.Ping(ctx))
	assert.True(t, c.IsValid())
	require.NoError(t, c.ResetSession(ctx))
	tx, err := c.BeginTx(ctx, driver.TxOptions{})
	require.NoError(t, err)
	require.NoError(t, exec(t, c, "INSERT t"))
	require.NoError(t, tx.Commit())
	st, err := c.PrepareContext(ctx, "SELECT COUNT t")
	require.NoError(t, err)
	assert.Equal(t, -1, st.NumInput())
	//lint:ignore SA1019 the old API works too
	rows, err := st.Query(nil)
	require.NoError(t, err)
	dest := make([]driver.Value, 1)
	require.NoError(t, rows.Next(dest))
	assert.Equal(t, int64(1), dest[0])
	require.NoError(t, rows.Close())
	res, err := st.(driver.StmtExecContext).ExecContext(ctx, []driver.NamedValue{{Ordinal: 1, Value: "ignored"}})
	require.NoError(t, err)
	n, err := res.RowsAffected()
	require.NoError(t, err)
	assert.Equal(t, int64(0), n)
	require.NoError(t, st.Close())
	require.NoError(t, c.CheckNamedValue(&driver.NamedValue{Value: struct{}{}}))
	require.NoError(t, c.Close())

	info := c.Info()
	assert.Equal(t, 0, db.Misuse())
	assert.Equal(t, 1, info.Pings)
	assert.Equal(t, 1, info.Validates)
	assert.Equal(t, 1, info.Resets)
	assert.Equal(t, 3, info.Queries, "INSERT and the prepared statement twice")
	// Ping, IsValid, ResetSession, BeginTx, Exec, Commit, Prepare, Query, Exec.
	assert.Equal(t, 9, info.Uses)
	assert.Equal(t, 1, info.CloseCount)
}

func TestOpenResultSetsDoNotShareABuffer(t *testing.T) {
	db := memdb.New()
	c := dial(t, db, "msi:a", "")
	ctx := context.Background()
	r1, err := c.QueryContext(ctx, "SELECT 1", nil)
	require.NoError(t, err)
	r2, err := c.QueryContext(ctx, "SELECT IDENTITY", nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"value"}, r1.Columns())
	assert.Equal(t, []string{"identity"}, r2.Columns())
	d1, d2 := make([]driver.Value, 1), make([]driver.Value, 1)
	require.NoError(t, r2.Next(d2))
	require.NoError(t, r1.Next(d1))
	assert.Equal(t, int64(1), d1[0])
	assert.Equal(t, "msi:a", d2[0])
	require.NoError(t, r1.Close())
	require.NoError(t, r1.Close())
	require.NoError(t, r2.Close())
	require.NoError(t, c.Close())
}
