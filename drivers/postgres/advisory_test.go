package postgres_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/manager"
)

// TestSessionAdvisoryLockEndsWithItsLease: a session advisory lock a lease
// took is released by the time Release returns, not when the connection is
// next used: another session (here the pool's next lease, on another
// connection) must not find it held by a connection sitting idle in the
// pool, which may be none for as long as the pool keeps it.
func TestSessionAdvisoryLockEndsWithItsLease(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 2})
	ctx := as(t, e.alice)
	held := func() int64 {
		return e.srv.QueryInt(t, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid IN (4242, 4243)")
	}
	for _, sql := range []string{
		"SELECT pg_advisory_lock(4242)",
		"SELECT pg_advisory_lock_shared(4242)",
		"SELECT pg_try_advisory_lock(4242)",
		"SELECT PG_TRY_ADVISORY_LOCK_SHARED(4242), pg_advisory_lock(4243)",
	} {
		l, err := e.pool.Acquire(ctx)
		require.NoError(t, err)
		_, err = l.Exec(ctx, sql)
		require.NoError(t, err, sql)
		require.NotZero(t, held(), "%s: the lease holds the lock", sql)
		l.Release()
		assert.Zero(t, held(), "%s: the lock outlived its lease", sql)
	}
	var got bool
	require.NoError(t, e.pool.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock(4242)").Scan(&got))
	assert.True(t, got, "another session takes the lock")
}
