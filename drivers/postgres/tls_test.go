package postgres

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/internal/pgtest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// TestDeferredResetOverTLS: with TLS (as Azure Database for PostgreSQL
// requires), the reset's wrapper sits over the TLS connection, so the
// deferred reset travels encrypted in front of the next request and still
// undoes the last lease's state on the same session.
func TestDeferredResetOverTLS(t *testing.T) {
	srv := pgtest.Start(t, pgtest.WithTLS())
	role, pwd := srv.NewRole(t, "tlsreset")
	d, err := NewDialer(srv.DSNWithSSLMode(role, pwd, "postgres", "require"))
	require.NoError(t, err)
	c, err := dial(t, d, sqlLoginRequest(d.ServerKey()))
	require.NoError(t, err)
	sc := c.(*stdlib.Conn)
	pc := sc.Conn()
	ctx := resetCtx(t)

	wrapper := sessionOf(t, pc)
	_, overTLS := wrapper.Conn.(*tls.Conn)
	require.True(t, overTLS, "the wrapper is over the TLS connection, got %T", wrapper.Conn)
	require.Equal(t, "true", queryString(t, ctx, pc, "SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()"))

	pid := queryString(t, ctx, pc, "SELECT pg_backend_pid()::text")
	_, err = pc.Exec(ctx, "SELECT set_config('idpool.secret', 'leaked', false)")
	require.NoError(t, err)
	_, err = pc.Exec(ctx, "CREATE TEMP TABLE leak (x int)")
	require.NoError(t, err)

	EndStrayRead(t, ctx, pc)
	deferred, full, _ := wrapper.counts()
	require.NoError(t, sc.ResetSession(ctx))
	d2, f2, _ := wrapper.counts()
	require.Equal(t, [2]int{deferred + 1, full}, [2]int{d2, f2}, "the reset was deferred")

	state := "SELECT coalesce(current_setting('idpool.secret', true), '') || ',' || (SELECT count(*) FROM pg_class WHERE relname = 'leak' AND relnamespace = pg_my_temp_schema())"
	assert.Equal(t, ",0", queryString(t, ctx, pc, state), "nothing of the last lease is left")
	assert.Equal(t, pid, queryString(t, ctx, pc, "SELECT pg_backend_pid()::text"), "the same session")
}

// TestPoolOverTLSResetsBetweenLeases: the same through the pgx-native Pool
// as a user calls it, with a DSN that requires TLS.
func TestPoolOverTLSResetsBetweenLeases(t *testing.T) {
	srv := pgtest.Start(t, pgtest.WithTLS())
	role, pwd := srv.NewRole(t, "tlspool")
	pool, err := OpenPool(srv.DSNWithSSLMode("nobody", "", "postgres", "require"), manager.Config{MaxSize: 1}, WithLoginUser(role))
	require.NoError(t, err)
	t.Cleanup(func() { _ = pool.Close() })
	ctx := tokens.WithIdentity(resetCtx(t), tlsIdentity(role, pwd))

	var pid, ssl string
	require.NoError(t, pool.QueryRow(ctx, "SELECT pg_backend_pid()::text, (SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid())").Scan(&pid, &ssl))
	require.Equal(t, "true", ssl)
	_, err = pool.Exec(ctx, "SET application_name = 'leaked'")
	require.NoError(t, err)
	var pid2, app string
	require.NoError(t, pool.QueryRow(ctx, "SELECT pg_backend_pid()::text, current_setting('application_name')").Scan(&pid2, &app))
	assert.Equal(t, pid, pid2, "MaxSize 1: the same session")
	assert.NotEqual(t, "leaked", app, "the next lease does not see the last one's setting")
}

// tlsIdentity is a token identity whose token is role's password, as Entra
// tokens are passwords to Azure Database for PostgreSQL.
func tlsIdentity(role, pwd string) tokens.Identity {
	return tokens.New(tokens.KindManagedIdentity, "msi:"+role, tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		return tokens.Token{Value: pwd, ExpiresOn: time.Now().Add(time.Hour)}, nil
	}))
}
