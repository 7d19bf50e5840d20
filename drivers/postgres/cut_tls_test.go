package postgres_test

import (
	"context"
	"database/sql/driver"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/internal/pgtest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// TestLeftOpenResultCutOverTLS: the Release cut of a result set left
// open, over TLS (AbortTransport closes the TCP connection under tls.Conn
// and the session wrapper while pgx reads through them), under -race; the
// slot then serves a working connection.
func TestLeftOpenResultCutOverTLS(t *testing.T) {
	srv := pgtest.Start(t, pgtest.WithTLS())
	role, pwd := srv.NewRole(t, "tlscut")
	pool, err := postgres.OpenPool(srv.DSNWithSSLMode(role, pwd, "postgres", "require"),
		manager.Config{MaxSize: 1, CancelGrace: time.Microsecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = pool.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id := tokens.SQLLogin()
	for range 5 {
		ml, err := pool.Manager().Acquire(ctx, id)
		require.NoError(t, err)
		rows, err := ml.Conn().QueryContext(context.Background(), "SELECT generate_series(1, 3000000)", nil)
		require.NoError(t, err)
		require.NoError(t, rows.Next(make([]driver.Value, 1)))
		ml.Release(nil)
	}
	ml, err := pool.Manager().Acquire(ctx, id)
	require.NoError(t, err)
	_, err = ml.Conn().ExecContext(ctx, "SELECT 1", nil)
	require.NoError(t, err)
	ml.Release(nil)
}
