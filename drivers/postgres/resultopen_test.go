package postgres_test

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/manager"
)

// TestACallWhileALeasesResultIsOpenIsRefusedByName: a Lease's call made
// while one of its results is still open (Rows not closed, a Row not
// scanned, BatchResults not closed) used to reach pgx, which answered
// "conn busy", naming neither the result nor what to do; and pgx's BeginTx,
// on that error, closes the connection, so a careless Begin also cut short
// the Rows still being read. The call is now refused before pgx, with an
// error that says so, and the open result reads on.
func TestACallWhileALeasesResultIsOpenIsRefusedByName(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 1})
	ctx := as(t, e.alice)
	l, err := e.pool.Acquire(ctx)
	require.NoError(t, err)
	defer l.Release()

	checkRefused := func(t *testing.T, err error) {
		t.Helper()
		if assert.Error(t, err) {
			assert.Contains(t, err.Error(), "still open")
			assert.NotContains(t, err.Error(), "conn busy")
		}
	}
	calls := map[string]func() error{
		"Exec":  func() error { _, err := l.Exec(ctx, "SELECT 1"); return err },
		"Query": func() error { _, err := l.Query(ctx, "SELECT 1"); return err },
		"QueryRow": func() error {
			return l.QueryRow(ctx, "SELECT 1").Scan(new(int))
		},
		"SendBatch": func() error {
			b := &pgx.Batch{}
			b.Queue("SELECT 1")
			return l.SendBatch(ctx, b).Close()
		},
		"CopyFrom": func() error {
			_, err := l.CopyFrom(ctx, pgx.Identifier{"t"}, []string{"a"}, pgx.CopyFromRows(nil))
			return err
		},
		"Begin": func() error { _, err := l.Begin(ctx); return err },
	}

	t.Run("Rows not closed", func(t *testing.T) {
		rows, err := l.Query(ctx, "SELECT generate_series(1, 3)")
		require.NoError(t, err)
		require.True(t, rows.Next())
		for name, call := range calls {
			t.Run(name, func(t *testing.T) { checkRefused(t, call()) })
		}
		n := 1
		for rows.Next() {
			n++
		}
		require.NoError(t, rows.Err(), "the Rows read on")
		assert.Equal(t, 3, n)
	})
	t.Run("Row not scanned", func(t *testing.T) {
		row := l.QueryRow(ctx, "SELECT 7")
		for name, call := range calls {
			t.Run(name, func(t *testing.T) { checkRefused(t, call()) })
		}
		var v int
		require.NoError(t, row.Scan(&v), "the Row scans on")
		assert.Equal(t, 7, v)
	})
	t.Run("a transaction's Rows not closed", func(t *testing.T) {
		tx, err := l.Begin(ctx)
		require.NoError(t, err)
		rows, err := tx.Query(ctx, "SELECT generate_series(1, 2)")
		require.NoError(t, err)
		_, err = tx.Exec(ctx, "SELECT 1")
		checkRefused(t, err)
		_, err = tx.Begin(ctx)
		checkRefused(t, err)
		rows.Close()
		require.NoError(t, rows.Err())
		require.NoError(t, tx.Commit(ctx))
	})
	_, err = l.Exec(ctx, "SELECT 1")
	assert.NoError(t, err, "the lease is usable once its results are done")
}
