package postgres_test

import (
	"context"
	"database/sql/driver"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/internal/syncbuf"
	"github.com/idpool/idpool/manager"
)

// TestReleaseCutsAHealthyResultLeftOpenAtOnce: a Manager lease releases a
// result set left open on a healthy server that would go on sending rows
// for hours. Its connection is closed either way, and pgx runs no reader
// of its own, so Release cuts it at once rather than have pgx read the
// rest of the reply, for as long as CancelGrace (an hour here: a bound
// that, read first, would hold Release for all of it), and logs no cut
// for a server that did nothing wrong. The identity's slot then serves a
// new connection.
func TestReleaseCutsAHealthyResultLeftOpenAtOnce(t *testing.T) {
	var logs syncbuf.Buffer
	e := newPgxEnv(t, manager.Config{MaxSize: 1, CancelGrace: time.Hour, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx := as(t, e.alice)
	l, err := e.pool.Manager().Acquire(ctx, e.alice)
	require.NoError(t, err)
	rows, err := l.Conn().QueryContext(context.Background(), "SELECT generate_series(1, 1000000000000)", nil)
	require.NoError(t, err)
	require.NoError(t, rows.Next(make([]driver.Value, 1)))
	returnsWithin(t, leftOpenMargin, "Release with a healthy result set left open", func() { l.Release(nil) })
	assert.NotContains(t, logs.String(), "took CancelGrace", "no cut is logged: the server answered")

	next, err := e.pool.Manager().Acquire(ctx, e.alice)
	require.NoError(t, err)
	defer next.Release(nil)
	assert.NotSame(t, l.Raw(), next.Raw(), "the connection left mid-reply was closed, not reused")
}
