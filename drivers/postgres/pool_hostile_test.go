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
