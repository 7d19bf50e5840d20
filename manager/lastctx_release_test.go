package manager

import (
	"context"
	"database/sql/driver"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestALeaseWhoseLastCallsCtxEndedIsClosedNotReset: a caller begins a
// transaction under a request's ctx, the request is cancelled (the client
// went away), and the handler's deferred Release runs. The call succeeded,
// so nothing marked the lease broken, but the driver finishes the
// transaction under that ctx (go-mssqldb's Rollback after it ended leaves
// its response reader running after it returns, microsoft/go-mssqldb#390),
// and may have cut short whatever it was still reading. Release must close
// the connection, as database/sql's own rollback at a ctx's end does
// (trackedTx.Rollback), not roll back under the ended ctx and hand the
// session to the next caller of the identity.
func TestALeaseWhoseLastCallsCtxEndedIsClosedNotReset(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 1})
	l := acquire(t, m, sqlLogin)
	id := connID(l)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := l.Conn().BeginTx(ctx, driver.TxOptions{})
	require.NoError(t, err)
	_, err = l.Conn().ExecContext(ctx, "INSERT 1", nil)
	require.NoError(t, err)
	before, _ := db.Conn(id)
	cancel()
	l.Release(nil)

	next := acquire(t, m, sqlLogin)
	defer next.Release(nil)
	assert.NotEqual(t, id, connID(next), "the connection whose last call's ctx ended was handed on")
	after, _ := db.Conn(id)
	assert.True(t, after.Closed, "the connection was not closed")
	assert.Equal(t, before.Resets, after.Resets, "Release reset the session of a call whose ctx had ended")
	assert.Equal(t, before.Uses, after.Uses, "Release used the connection (a rollback under the ended ctx)")
}
