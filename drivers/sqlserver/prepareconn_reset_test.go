package sqlserver_test

import (
	"context"
	"database/sql/driver"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// The PrepareConn hook's first request on a connection is the one that
// carries the session reset of the last release. When the last lease left
// the session under EXECUTE AS, SQL Server refuses that reset (error 18059)
// and ends the session without running the request: the hook failed with
// it, and so did the acquire, and the call through the facade, where the
// same session without a hook costs the caller nothing (the facade has
// database/sql run the call again on a new session). The connection's
// failure, not the hook's: the pool now discards the connection and
// acquires another, as when the hook returns false.
func TestAPrepareConnHookOnASessionLeftImpersonatingGetsANewSession(t *testing.T) {
	srv := startServer(t)
	ctx := tokens.WithIdentity(ctxT(t), tokens.SQLLogin())
	db, err := sqlserver.OpenDB(dsnFor(srv, ""), manager.Config{MaxSize: 1,
		Hooks: manager.Hooks{PrepareConn: func(ctx context.Context, c driver.Conn) (bool, error) {
			return true, execOn(ctx, c, "EXEC sp_set_session_context N'tenant', N'contoso'")
		}}})
	require.NoError(t, err)
	defer db.Close()

	impersonate := func() {
		t.Helper()
		conn, err := db.Conn(ctx)
		require.NoError(t, err)
		_, err = conn.ExecContext(ctx, "EXECUTE AS USER = 'reporting'")
		require.NoError(t, err)
		require.NoError(t, conn.Close())
	}

	impersonate()
	var user, tenant string
	require.NoError(t, db.QueryRowContext(ctx, "SELECT USER_NAME(), SESSION_CONTEXT(N'tenant')").Scan(&user, &tenant),
		"the call failed with the last lease's refused reset")
	assert.Equal(t, [2]string{"dbo", "contoso"}, [2]string{user, tenant}, "never as the impersonated user; the hook ran")

	impersonate()
	l, err := db.Manager.Acquire(ctx, tokens.SQLLogin())
	require.NoError(t, err, "the acquire failed with the last lease's refused reset")
	l.Release(nil)

	assert.Equal(t, 2, srv.ResetsRefused())
	assert.EqualValues(t, 3, db.Manager.Stats().Total.Opens, "each refused session was replaced")
}
