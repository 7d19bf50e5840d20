package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/manager"
)

// TestANilContextIsRefusedByEveryCall: a nil ctx (what staticcheck warns
// about, and what generated or wrapping code passes) panicked with a bare
// nil pointer in the Pool's calls (tokens.IdentityFrom) and, inside the
// guard, in the Lease's and its transaction's; a Commit or Rollback given
// one through manager.Lease.WithRaw's refusal would end the transaction
// unrun. Each call now refuses it first, with an error matching
// manager.ErrNilContext that names the call (a Row's Scan, a Rows' Err and
// BatchResults' Exec give it), and changes nothing: the transaction goes
// on and commits, the lease and the pool serve on.
func TestANilContextIsRefusedByEveryCall(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 1})
	ctx := as(t, e.alice)
	p := e.pool
	var nilCtx context.Context
	batchErr := func(br pgx.BatchResults) error {
		_, err := br.Exec()
		_ = br.Close()
		return err
	}
	rowsErr := func(r pgx.Rows, err error) error {
		if r != nil {
			r.Close()
			assert.Equal(t, err, r.Err(), "the Rows' Err is the call's error")
		}
		return err
	}
	src := pgx.CopyFromRows([][]any{{1}})
	cols := []string{"a"}
	pool := map[string]func() error{
		"Pool.Acquire": func() error {
			l, err := p.Acquire(nilCtx)
			assert.Nil(t, l)
			return err
		},
		"Pool.AcquireFunc": func() error {
			return p.AcquireFunc(nilCtx, func(*postgres.Lease) error { t.Error("f ran"); return nil })
		},
		"Pool.Exec":      func() error { _, err := p.Exec(nilCtx, "SELECT 1"); return err },
		"Pool.Query":     func() error { return rowsErr(p.Query(nilCtx, "SELECT 1")) },
		"Pool.QueryRow":  func() error { return p.QueryRow(nilCtx, "SELECT 1").Scan(new(int)) },
		"Pool.SendBatch": func() error { return batchErr(p.SendBatch(nilCtx, &pgx.Batch{})) },
		"Pool.CopyFrom":  func() error { _, err := p.CopyFrom(nilCtx, pgx.Identifier{"t"}, cols, src); return err },
		"Pool.Begin":     func() error { _, err := p.Begin(nilCtx); return err },
		"Pool.BeginTx":   func() error { _, err := p.BeginTx(nilCtx, pgx.TxOptions{}); return err },
	}
	refused(t, pool)

	l, err := p.Acquire(ctx)
	require.NoError(t, err)
	tx, err := l.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "CREATE TEMP TABLE nilctx (a int)")
	require.NoError(t, err)
	refused(t, map[string]func() error{
		"Lease.Exec":      func() error { _, err := l.Exec(nilCtx, "SELECT 1"); return err },
		"Lease.Query":     func() error { return rowsErr(l.Query(nilCtx, "SELECT 1")) },
		"Lease.QueryRow":  func() error { return l.QueryRow(nilCtx, "SELECT 1").Scan(new(int)) },
		"Lease.SendBatch": func() error { return batchErr(l.SendBatch(nilCtx, &pgx.Batch{})) },
		"Lease.CopyFrom":  func() error { _, err := l.CopyFrom(nilCtx, pgx.Identifier{"nilctx"}, cols, src); return err },
		"Lease.Begin":     func() error { _, err := l.Begin(nilCtx); return err },
		"Lease.BeginTx":   func() error { _, err := l.BeginTx(nilCtx, pgx.TxOptions{}); return err },
		"Tx.Exec":         func() error { _, err := tx.Exec(nilCtx, "SELECT 1"); return err },
		"Tx.Query":        func() error { return rowsErr(tx.Query(nilCtx, "SELECT 1")) },
		"Tx.QueryRow":     func() error { return tx.QueryRow(nilCtx, "SELECT 1").Scan(new(int)) },
		"Tx.SendBatch":    func() error { return batchErr(tx.SendBatch(nilCtx, &pgx.Batch{})) },
		"Tx.CopyFrom":     func() error { _, err := tx.CopyFrom(nilCtx, pgx.Identifier{"nilctx"}, cols, src); return err },
		"Tx.Prepare":      func() error { _, err := tx.Prepare(nilCtx, "s", "SELECT 1"); return err },
		"Tx.Begin":        func() error { _, err := tx.Begin(nilCtx); return err },
		"Tx.Commit":       func() error { return tx.Commit(nilCtx) },
		"Tx.Rollback":     func() error { return tx.Rollback(nilCtx) },
	})
	// The transaction went on: it still runs and commits.
	_, err = tx.Exec(ctx, "INSERT INTO nilctx VALUES (1)")
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	assert.Equal(t, int64(1), scalar[int64](t, ctx, l, "SELECT count(*) FROM nilctx"))
	l.Release()

	// And the pool, its one slot free, serves each call again.
	assert.Zero(t, e.busy())
	refused(t, pool)
	var one int
	require.NoError(t, p.QueryRow(ctx, "SELECT 1").Scan(&one))
	assert.Zero(t, e.busy())
}

// refused runs each call, which was given a nil ctx, and checks it was
// refused, by name, without a panic.
func refused(t *testing.T, calls map[string]func() error) {
	t.Helper()
	for name, call := range calls {
		var err error
		require.NotPanics(t, func() { err = call() }, name)
		require.ErrorIs(t, err, manager.ErrNilContext, name)
		assert.Contains(t, err.Error(), name+": nil Context", "the error names the call")
	}
}
