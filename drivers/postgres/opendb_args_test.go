package postgres_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/manager"
)

// TestOpenDBWaitingCallKeepsPgxArgumentTypes: with SetMaxOpenConns, a call
// that waits is handed a connection database/sql's opener made once another
// went bad, and database/sql converts the call's arguments before the call
// binds it to a lease. They met database/sql's default conversion instead
// of pgx's, so a []int64 for = ANY($1) failed with "unsupported type
// []int64, a slice of int64" exactly when the service was under load.
func TestOpenDBWaitingCallKeepsPgxArgumentTypes(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 2})
	db, err := postgres.OpenDB(e.dsn, manager.Config{MaxSize: 2}, postgres.WithUser(roleOf))
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	db.SetMaxOpenConns(1)

	conn, err := db.Conn(as(t, e.alice))
	require.NoError(t, err)
	var n int
	done := make(chan error, 1)
	go func() {
		done <- db.QueryRowContext(as(t, e.bob), "SELECT cardinality($1::int8[])", []int64{1, 2, 3}).Scan(&n)
	}()
	require.Eventually(t, func() bool { return db.Stats().WaitCount == 1 }, 10*time.Second, time.Millisecond, "bob waits for the one connection")
	_, err = conn.ExecContext(as(t, e.alice), "SELECT pg_terminate_backend(pg_backend_pid())")
	require.Error(t, err, "alice's session ended under her")
	_, err = conn.ExecContext(as(t, e.alice), "SELECT 1")
	require.Error(t, err, "and pgx finds out")
	_ = conn.Close() // database/sql closes it as bad and opens another for bob
	require.NoError(t, <-done)
	assert.Equal(t, 3, n)
}
