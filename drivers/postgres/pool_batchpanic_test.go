package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/manager"
)

// TestPoolBatchWhoseCallbackPanicsHandsItsLeaseBack: pgx runs a queued
// query's callback (QueuedQuery.QueryRow, Query, Exec) inside
// BatchResults.Close. A callback that panics (a nil pointer in the caller's
// code, say, under an HTTP server that recovers) used to leave the lease the
// Pool's SendBatch took with the results, which had already counted
// themselves closed: no later Close released it, and the identity's slot was
// gone for good (here its only one, so every later call waited for its
// ctx). Close now hands the lease back, its connection closed (pgx stopped
// mid-batch), before the panic goes on, also for a batch that began a
// transaction.
func TestPoolBatchWhoseCallbackPanicsHandsItsLeaseBack(t *testing.T) {
	for _, withTx := range []bool{false, true} {
		name := "plain"
		if withTx {
			name = "BeginTx"
		}
		t.Run(name, func(t *testing.T) {
			e := newPgxEnv(t, manager.Config{MaxSize: 1})
			ctx := as(t, e.alice)
			var before, after int32
			require.NoError(t, e.pool.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&before))

			b := &pgx.Batch{}
			if withTx {
				b.BeginTx(pgx.TxOptions{})
			}
			b.Queue("SELECT 1").QueryRow(func(pgx.Row) error { panic("callback") })
			b.Queue("SELECT 2")
			br := e.pool.SendBatch(ctx, b)
			func() {
				defer func() { assert.Equal(t, "callback", recover()) }()
				_ = br.Close()
			}()
			assert.Zero(t, e.busy(), "the lease came back")
			_ = br.Close() // a second Close does nothing more
			if withTx {
				assert.ErrorIs(t, br.Tx().Rollback(ctx), pgx.ErrTxClosed, "the transaction ended with its connection")
			}

			short, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			require.NoError(t, e.pool.QueryRow(short, "SELECT pg_backend_pid()").Scan(&after))
			assert.NotEqual(t, before, after, "the connection left mid-batch was kept")
			assert.Zero(t, e.busy())
		})
	}
}
