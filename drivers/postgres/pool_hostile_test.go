package postgres_test

import (
	"context"
	"database/sql/driver"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/manager"
)

// panicValuer is an argument whose encoding panics, as a careless
// driver.Valuer (or a nil pointer behind one) does. pgx calls it while it
// builds the request, inside the Pool's call.
type panicValuer struct{}

func (panicValuer) Value() (driver.Value, error) { panic("panicValuer") }

// TestPoolCallsThatPanicHandTheirLeaseBack: a Pool call that panics while
// pgx encodes its arguments returns no result the caller could close, so the
// call itself must hand its lease back; otherwise the identity's slot is
// gone for good (here its only one, so every later call waits for its ctx).
func TestPoolCallsThatPanicHandTheirLeaseBack(t *testing.T) {
	for _, c := range []struct {
		name string
		call func(context.Context, *postgres.Pool)
	}{
		{"Query", func(ctx context.Context, p *postgres.Pool) { _, _ = p.Query(ctx, "SELECT $1::text", panicValuer{}) }},
		{"QueryRow", func(ctx context.Context, p *postgres.Pool) {
			_ = p.QueryRow(ctx, "SELECT $1::text", panicValuer{}).Scan(new(string))
		}},
		{"SendBatch", func(ctx context.Context, p *postgres.Pool) {
			b := &pgx.Batch{}
			b.Queue("SELECT $1::text", panicValuer{})
			_ = p.SendBatch(ctx, b).Close()
		}},
		{"Exec", func(ctx context.Context, p *postgres.Pool) { _, _ = p.Exec(ctx, "SELECT $1::text", panicValuer{}) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newPgxEnv(t, manager.Config{MaxSize: 1})
			ctx := as(t, e.alice)
			func() {
				defer func() { assert.Equal(t, "panicValuer", recover()) }()
				c.call(ctx, e.pool)
			}()
			assert.Zero(t, e.busy(), "the lease came back")
			// The identity's one slot is free: a call gets it well within
			// its deadline rather than waiting it out.
			short, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			_, err := e.pool.Exec(short, "SELECT 1")
			require.NoError(t, err)
		})
	}
}

// TestPoolBatchWhoseTransactionNeverBeganReleasesAtClose: a Pool batch that
// begins a transaction holds its lease until that transaction ends. When
// the batch fails before its BEGIN runs (here a statement of it fails to
// prepare, so nothing is sent), pgx closes the transaction at Close and says
// so (pgx.BatchResults.Tx): a caller who then returns Close's error without
// a Rollback must not leave the identity's slot taken.
func TestPoolBatchWhoseTransactionNeverBeganReleasesAtClose(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 1})
	ctx := as(t, e.alice)
	e.createItems(t)

	b := &pgx.Batch{}
	b.BeginTx(pgx.TxOptions{})
	b.Queue("INSERT INTO items VALUES ($1, 'x')", 1)
	b.Queue("SELECT * FROM no_such_table WHERE id = $1", 1)
	br := e.pool.SendBatch(ctx, b)
	require.NotNil(t, br.Tx())
	assert.ErrorContains(t, br.Close(), "no_such_table")
	assert.Zero(t, e.busy(), "the failed batch's lease came back at Close")
	assert.ErrorIs(t, br.Tx().Rollback(ctx), pgx.ErrTxClosed)
	assert.ErrorIs(t, br.Tx().Commit(ctx), pgx.ErrTxClosed)
	_, err := br.Tx().Exec(ctx, "INSERT INTO items VALUES (2, 'late')")
	assert.ErrorIs(t, err, manager.ErrLeaseReleased)
	assert.Zero(t, e.countItems(t))

	// A batch whose transaction did begin still holds its lease until the
	// transaction ends, also when a statement after the BEGIN fails.
	b = &pgx.Batch{}
	b.BeginTx(pgx.TxOptions{})
	b.Queue("INSERT INTO items VALUES (3, 'x')")
	b.Queue("SELECT 1/0")
	br = e.pool.SendBatch(ctx, b)
	assert.ErrorContains(t, br.Close(), "division by zero")
	assert.Equal(t, 1, e.busy(), "the transaction still holds the lease")
	require.NoError(t, br.Tx().Rollback(ctx))
	assert.Zero(t, e.busy())
	assert.Zero(t, e.countItems(t))
}
