package e2e

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/internal/pgtest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// TestPGKilledIdleSessionsAreReplacedSilently: sessions killed on the server
// while idle in the pool fail the health check at the next checkout and are
// replaced by a new dial; the caller never sees an error.
func TestPGKilledIdleSessionsAreReplacedSilently(t *testing.T) {
	srv := pgtest.Shared(t)
	p := pgSQLLoginPool(t, srv, "killidle", manager.Config{MaxSize: 2, HealthCheckAfter: time.Millisecond})
	ctx := pgCtx(t)

	conns, old := pgHoldConns(t, ctx, p.db, 2)
	pgCloseAll(t, conns)
	require.Equal(t, 2, p.stats().Idle)

	require.Equal(t, 2, srv.Terminate(t, p.role), "both idle sessions killed")

	// One call: both idle connections are tried in turn (LIFO), both fail
	// their check, and a new dial serves the call.
	pid, err := pgPID(ctx, p.db)
	require.NoError(t, err, "the caller must not see the dead sessions")
	assert.NotContains(t, old, pid)
	st := p.stats()
	assert.EqualValues(t, 2, st.Closes["failed_health_check"])
	assert.EqualValues(t, 3, st.Opens)
	assert.Equal(t, 1, st.Open)
	assert.Zero(t, st.Closes["broken"])

	// And the replacement is reused, healthy.
	assert.Equal(t, pid, pgMustPID(t, ctx, p.db))
	assert.Equal(t, 1, srv.Backends(t, p.role))
}

// TestPGKilledBusySessionFailsItsCallerOnce: a session killed while a caller
// is using it fails that caller's statement with the server's error once; the
// pool closes it on release and the next call runs on a new session.
func TestPGKilledBusySessionFailsItsCallerOnce(t *testing.T) {
	srv := pgtest.Shared(t)
	// No health check: the pool learns of the kill only from the caller.
	p := pgSQLLoginPool(t, srv, "killbusy", manager.Config{MaxSize: 1, HealthCheckAfter: -1})
	ctx := pgCtx(t)

	t.Run("mid-statement via the facade", func(t *testing.T) {
		pid := pgMustPID(t, ctx, p.db)
		done := make(chan error, 1)
		go func() {
			_, err := p.db.ExecContext(ctx, "SELECT pg_sleep(60)")
			done <- err
		}()
		pgEventually(t, 10*time.Second, func() bool { return pgActive(t, srv, p.role, "pg_sleep(60)") == 1 },
			"the statement never started")
		broken := p.stats().Closes["broken"]
		require.Equal(t, 1, srv.Terminate(t, p.role))

		var err error
		select {
		case err = <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("the killed statement did not return")
		}
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr, "the caller sees the server's error")
		assert.Equal(t, "57P01", pgErr.Code, "admin_shutdown")

		next := pgMustPID(t, ctx, p.db)
		assert.NotEqual(t, pid, next, "the killed session was reused")
		assert.Equal(t, broken+1, p.stats().Closes["broken"])
		assert.Equal(t, 1, p.stats().Open)
	})

	t.Run("between statements on a lease", func(t *testing.T) {
		l, err := p.db.Manager.Acquire(ctx, tokens.SQLLogin())
		require.NoError(t, err)
		pid := pgLeasePID(t, ctx, l)
		broken := p.stats().Closes["broken"]
		require.Equal(t, 1, srv.Terminate(t, p.role))

		_, err = pgLeaseScalar(ctx, l, "SELECT 1")
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr)
		assert.Equal(t, "57P01", pgErr.Code)
		require.False(t, manager.IsBroken(err), "a server error by itself does not say the session is gone")
		// The caller hands back the error it saw; the pool finds out on its
		// own (the session reset fails) that the connection is dead.
		l.Release(err)

		next, err := pgPID(ctx, p.db)
		require.NoError(t, err, "only the caller holding the session fails")
		assert.NotEqual(t, pid, next)
		assert.Equal(t, broken+1, p.stats().Closes["broken"])
		assert.Equal(t, 1, p.stats().Open)
	})

	t.Run("inside a transaction via the facade", func(t *testing.T) {
		tx, err := p.db.BeginTx(ctx, nil)
		require.NoError(t, err)
		pid := pgMustPID(t, ctx, tx)
		broken := p.stats().Closes["broken"]
		require.Equal(t, 1, srv.Terminate(t, p.role))

		_, err = tx.ExecContext(ctx, "SELECT 1")
		require.Error(t, err)
		// Rollback on a dead session fails too; either way the lease is
		// handed back and the session is not reused.
		rbErr := tx.Rollback()
		t.Logf("rollback on the killed session: %v", rbErr)

		next := pgMustPID(t, ctx, p.db)
		assert.NotEqual(t, pid, next)
		assert.Equal(t, broken+1, p.stats().Closes["broken"])
		assert.Equal(t, 1, p.stats().Open)
	})
}
