package sqlserver_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"testing"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// failBeforeSending runs on c a call that go-mssqldb fails before sending
// anything (an argument whose Value fails), having cleared the reset flag
// of the connection, and returns its error.
func failBeforeSending(ctx context.Context, c driver.Conn) error {
	s, err := c.(driver.ConnPrepareContext).PrepareContext(ctx, "EXEC sp_set_session_context N'tenant', @p1")
	if err != nil {
		return err
	}
	defer s.Close()
	_, err = s.(driver.StmtExecContext).ExecContext(ctx, []driver.NamedValue{{Ordinal: 1, Value: failingValuer{}}})
	return err
}

// assertFreshSession fails unless q (a *sql.Conn or the *sql.DB) runs in a
// session that has neither the #left temporary table nor the SET
// LOCK_TIMEOUT a last lease left.
func assertFreshSession(t *testing.T, ctx context.Context, lockTimeout func() (int, error), countLeft func() error) {
	t.Helper()
	lt, err := lockTimeout()
	require.NoError(t, err)
	assert.Equal(t, -1, lt, "the last lease's SET reached this one")
	err = countLeft()
	var me mssql.Error
	require.True(t, errors.As(err, &me), "the last lease's temporary table reached this one: %v", err)
	assert.EqualValues(t, 208, me.Number, "invalid object name: %v", err)
}

// The reset a release flags rides on the next request, and go-mssqldb
// clears the flag before it encodes the arguments: a call that fails there
// sends nothing and loses it. The Dialer flags it again when it hears of
// the failure (TestACallThatFailsBeforeSendingKeepsTheReset), but it heard
// only of the lease's own calls: a PrepareConn or AfterRelease hook, or a
// WithRaw function, that met such a failure and returned no error (a
// best-effort hook) left the lease in the session as the last lease had
// left it.
func TestACallThatFailsBeforeSendingInAHookOrWithRawKeepsTheReset(t *testing.T) {
	leave := "CREATE TABLE #left (a int); SET LOCK_TIMEOUT 250"

	t.Run("PrepareConn", func(t *testing.T) {
		srv := startServer(t)
		ctx := tokens.WithIdentity(ctxT(t), tokens.SQLLogin())
		hookFailed := make(chan error, 2)
		db, err := sqlserver.OpenDB(dsnFor(srv, ""), manager.Config{MaxSize: 1,
			Hooks: manager.Hooks{PrepareConn: func(ctx context.Context, c driver.Conn) (bool, error) {
				hookFailed <- failBeforeSending(ctx, c)
				return true, nil // best effort: the tenant is optional
			}}})
		require.NoError(t, err)
		defer db.Close()

		_, err = db.ExecContext(ctx, leave)
		require.NoError(t, err)
		require.Error(t, <-hookFailed)
		conn, err := db.Conn(ctx)
		require.NoError(t, err)
		defer conn.Close()
		require.Error(t, <-hookFailed)
		assertFreshSession(t, ctx,
			func() (n int, err error) { return n, conn.QueryRowContext(ctx, "SELECT @@LOCK_TIMEOUT").Scan(&n) },
			func() error { var n int; return conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM #left").Scan(&n) })
	})

	t.Run("AfterRelease", func(t *testing.T) {
		srv := startServer(t)
		ctx := tokens.WithIdentity(ctxT(t), tokens.SQLLogin())
		hookFailed := make(chan error, 4) // a send per release
		db, err := sqlserver.OpenDB(dsnFor(srv, ""), manager.Config{MaxSize: 1,
			Hooks: manager.Hooks{AfterRelease: func(c driver.Conn) bool {
				hookFailed <- failBeforeSending(ctx, c)
				return true // best effort
			}}})
		require.NoError(t, err)
		defer db.Close()

		conn, err := db.Conn(ctx)
		require.NoError(t, err)
		_, err = conn.ExecContext(ctx, leave)
		require.NoError(t, err)
		require.NoError(t, conn.Close())
		require.Error(t, <-hookFailed)
		conn, err = db.Conn(ctx)
		require.NoError(t, err)
		defer conn.Close()
		assertFreshSession(t, ctx,
			func() (n int, err error) { return n, conn.QueryRowContext(ctx, "SELECT @@LOCK_TIMEOUT").Scan(&n) },
			func() error { var n int; return conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM #left").Scan(&n) })
	})

	t.Run("WithRaw", func(t *testing.T) {
		srv := startServer(t)
		ctx := ctxT(t)
		db, err := sqlserver.OpenDB(dsnFor(srv, ""), manager.Config{MaxSize: 1})
		require.NoError(t, err)
		defer db.Close()

		l, err := db.Manager.Acquire(ctx, tokens.SQLLogin())
		require.NoError(t, err)
		require.NoError(t, execOn(ctx, l.Raw(), leave))
		l.Release(nil)

		l, err = db.Manager.Acquire(ctx, tokens.SQLLogin())
		require.NoError(t, err)
		defer l.Release(nil)
		require.NoError(t, l.WithRaw(ctx, func(c driver.Conn) error {
			require.Error(t, failBeforeSending(ctx, c))
			return nil // swallowed
		}))
		assertFreshSession(t, ctx,
			func() (int, error) {
				v, err := leaseScalar(ctx, l, "SELECT @@LOCK_TIMEOUT")
				n, _ := v.(int64)
				return int(n), err
			},
			func() error { _, err := leaseScalar(ctx, l, "SELECT COUNT(*) FROM #left"); return err })
	})
}

// leaseScalar runs q on l's connection, through the lease guard, and
// returns the first column of its one row.
func leaseScalar(ctx context.Context, l *manager.Lease, q string) (driver.Value, error) {
	s, err := l.Conn().PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	rows, err := s.(driver.StmtQueryContext).QueryContext(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	dest := make([]driver.Value, len(rows.Columns()))
	if err := rows.Next(dest); err != nil {
		return nil, err
	}
	return dest[0], nil
}
