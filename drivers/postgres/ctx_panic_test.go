package postgres_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/manager"
)

// panicCtx is a caller's ctx whose method `in` panics once armed: the
// hostile caller, whose own code (its ctx) may fail its call with a panic
// but must leave nothing of the pool's behind.
type panicCtx struct {
	context.Context
	in    string
	armed *atomic.Bool
}

func (c panicCtx) hit(m string) {
	if c.in == m && c.armed.Load() {
		panic("hostile ctx: " + m)
	}
}

func (c panicCtx) Done() <-chan struct{}       { c.hit("Done"); return c.Context.Done() }
func (c panicCtx) Err() error                  { c.hit("Err"); return c.Context.Err() }
func (c panicCtx) Deadline() (time.Time, bool) { c.hit("Deadline"); return c.Context.Deadline() }
func (c panicCtx) Value(k any) any             { c.hit("Value"); return c.Context.Value(k) }

// try runs f and returns what it panicked with, if anything.
func try(f func()) (r any) {
	defer func() { r = recover() }()
	f()
	return nil
}

// TestAPanickingCtxLeavesNoLeaseOut: a ctx whose Done, Err, Deadline or
// Value panics, from the start of a call or only once the call has
// returned its result, may take its panic to the caller but never keeps a
// lease: each Pool call hands its lease back (the identity's one slot
// serves the next call), as a Lease's holder and a transaction's do by
// their Release and Rollback with a ctx of their own.
func TestAPanickingCtxLeavesNoLeaseOut(t *testing.T) {
	for _, in := range []string{"Done", "Err", "Deadline", "Value"} {
		t.Run(in, func(t *testing.T) {
			e := newPgxEnv(t, manager.Config{MaxSize: 1})
			ctx := as(t, e.alice)
			p := e.pool
			armed := new(atomic.Bool)
			h := panicCtx{ctx, in, armed}
			free := func(what string) {
				t.Helper()
				assert.Zero(t, e.busy(), "%s: a lease is still out", what)
				var one int
				short, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				require.NoError(t, p.QueryRow(short, "SELECT 1").Scan(&one), "%s: the pool no longer serves", what)
			}
			for name, call := range map[string]func(){
				"Pool.Acquire": func() {
					if l, _ := p.Acquire(h); l != nil {
						l.Release()
					}
				},
				"Pool.AcquireFunc": func() {
					_ = p.AcquireFunc(h, func(l *postgres.Lease) error { _, err := l.Exec(h, "SELECT 1"); return err })
				},
				"Pool.Exec": func() { _, _ = p.Exec(h, "SELECT 1") },
				"Pool.Query": func() {
					r, _ := p.Query(h, "SELECT 1")
					r.Close()
				},
				"Pool.QueryRow":  func() { _ = p.QueryRow(h, "SELECT 1").Scan(new(int)) },
				"Pool.SendBatch": func() { b := &pgx.Batch{}; b.Queue("SELECT 1"); _ = p.SendBatch(h, b).Close() },
				"Pool.CopyFrom": func() {
					_, _ = p.CopyFrom(h, pgx.Identifier{"nowhere"}, []string{"a"}, pgx.CopyFromRows([][]any{{1}}))
				},
				"Pool.BeginTx": func() {
					if tx, err := p.BeginTx(h, pgx.TxOptions{}); err == nil {
						_ = tx.Rollback(ctx)
					}
				},
			} {
				armed.Store(true)
				_ = try(call)
				armed.Store(false)
				free(name + " armed")
			}
			// A Lease's and a transaction's calls, then their Release.
			l, err := p.Acquire(ctx)
			require.NoError(t, err)
			tx, err := l.Begin(ctx)
			require.NoError(t, err)
			armed.Store(true)
			_ = try(func() { _, _ = l.Exec(h, "SELECT 1") })
			_ = try(func() { r, _ := l.Query(h, "SELECT 1"); r.Close() })
			_ = try(func() { _ = l.QueryRow(h, "SELECT 1").Scan(new(int)) })
			_ = try(func() { _, _ = tx.Exec(h, "SELECT 1") })
			_ = try(func() { _ = tx.Commit(h) })
			armed.Store(false)
			_ = tx.Rollback(ctx)
			l.Release()
			free("a Lease's calls")
			if in == "Done" || in == "Value" {
				// Armed only after the call, these two panic inside pgx's
				// ContextWatcher.Unwatch (context.AfterFunc's stop reads
				// the parent's Done and Value): the watcher is left with
				// its stop spent, and pgx's own Close of that connection
				// then waits for good. pgx's to bound, not the Pool's.
				return
			}
			// Armed only once the call has returned its result: the
			// result's own calls run under the call's ctx.
			for name, call := range map[string]func(){
				"Pool.Query's Rows.Close": func() {
					r, err := p.Query(h, "SELECT 1")
					require.NoError(t, err)
					armed.Store(true)
					defer r.Close() // as a caller defers it
					r.Close()
				},
				"Pool.Query's Rows.Next": func() {
					r, err := p.Query(h, "SELECT 1")
					require.NoError(t, err)
					armed.Store(true)
					defer r.Close()
					for r.Next() {
					}
				},
				"Pool.QueryRow's Scan": func() {
					r := p.QueryRow(h, "SELECT 1")
					armed.Store(true)
					_ = r.Scan(new(int))
				},
				"Pool.SendBatch's Close": func() {
					b := &pgx.Batch{}
					b.Queue("SELECT 1")
					br := p.SendBatch(h, b)
					armed.Store(true)
					_ = br.Close()
				},
				"Pool.BeginTx's Commit": func() {
					tx, err := p.BeginTx(h, pgx.TxOptions{})
					require.NoError(t, err)
					armed.Store(true)
					defer func() { _ = tx.Rollback(ctx) }() // a ctx of its own ends it
					_ = tx.Commit(h)
				},
			} {
				_ = try(call)
				armed.Store(false)
				free(name)
			}
		})
	}
}
