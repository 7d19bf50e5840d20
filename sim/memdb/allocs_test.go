package memdb_test

import (
	"context"
	"database/sql/driver"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/memdb"
)

// The pool's benchmarks count allocations per acquire; memdb must add none
// on the calls a pooled connection sees on every use.
func TestHotPathAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	db := memdb.New()
	c := dial(t, db, "msi:system", "tok")
	ctx := context.Background()
	dest := make([]driver.Value, 1)
	for name, f := range map[string]func(){
		"Ping":         func() { _ = c.Ping(ctx) },
		"IsValid":      func() { _ = c.IsValid() },
		"ResetSession": func() { _ = c.ResetSession(ctx) },
		"SELECT 1": func() {
			r, _ := c.QueryContext(ctx, "SELECT 1", nil)
			_ = r.Next(dest)
			_ = r.Close()
		},
		"SELECT IDENTITY": func() {
			r, _ := c.QueryContext(ctx, "SELECT IDENTITY", nil)
			_ = r.Next(dest)
			_ = r.Close()
		},
		"Begin INSERT Commit": func() {
			tx, _ := c.BeginTx(ctx, driver.TxOptions{})
			_, _ = c.ExecContext(ctx, "INSERT t", nil)
			_ = tx.Commit()
		},
		"Begin INSERT Rollback": func() {
			tx, _ := c.BeginTx(ctx, driver.TxOptions{})
			_, _ = c.ExecContext(ctx, "INSERT t", nil)
			_ = tx.Rollback()
		},
	} {
		assert.Zero(t, testing.AllocsPerRun(200, f), name)
	}
	require.NoError(t, c.Close())
	assert.Equal(t, 0, db.Misuse())
}
