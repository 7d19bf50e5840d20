package postgres_test

import (
	"context"
	"database/sql/driver"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/internal/netfault"
	"github.com/idpool/idpool/internal/syncbuf"
	"github.com/idpool/idpool/manager"
)

// TestCutLogsNoSecret: the log lines of a Release cut (a transaction
// left open on a silent server; a result set left open is cut at once for
// pgx, unlogged) and of a forced Close that cuts a pgx connection name no
// token and no DSN, at debug level.
func TestCutLogsNoSecret(t *testing.T) {
	srv := newPgxEnvNoPool(t).srv
	role, tok := srv.NewRole(t, "plogs")
	proxy, err := netfault.Listen(net.JoinHostPort("127.0.0.1", strconv.Itoa(srv.Port())))
	require.NoError(t, err)
	t.Cleanup(func() { _ = proxy.Close() })
	u, err := url.Parse(srv.DSN("nobody", "", "postgres"))
	require.NoError(t, err)
	u.Host = proxy.Addr()
	var buf syncbuf.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	pool, err := postgres.OpenPool(u.String(), manager.Config{MaxSize: 2, CancelGrace: 200 * time.Millisecond, Logger: log},
		postgres.WithLoginUser(role))
	require.NoError(t, err)
	id := tokenIdentity(role, tok)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	ml, err := pool.Manager().Acquire(ctx, id)
	require.NoError(t, err)
	_, err = ml.Conn().BeginTx(context.Background(), driver.TxOptions{})
	require.NoError(t, err)
	_, err = ml.Conn().ExecContext(context.Background(), "SELECT 1", nil)
	require.NoError(t, err)
	held, err := pool.Manager().Acquire(ctx, id) // a second lease, for the forced Close
	require.NoError(t, err)
	proxy.SilenceOpen()
	ml.Release(nil)
	closeCtx, stop := context.WithCancel(context.Background())
	stop()
	_ = pool.Manager().Close(closeCtx)
	held.Release(nil)

	// The cut's line is logged once the cut counts as done, on the
	// timer's goroutine, which Release does not wait for.
	require.Eventually(t, func() bool {
		return strings.Contains(buf.String(), "rolling back a transaction left open at Release took CancelGrace")
	}, 10*time.Second, time.Millisecond, "the cut was logged")
	out := buf.String()
	assert.False(t, strings.Contains(out, tok), "a token in the logs")
	assert.False(t, strings.Contains(out, u.String()), "the DSN in the logs")
}
