package sqlserver_test

import (
	"context"
	"database/sql/driver"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/internal/syncbuf"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// TestReleaseCutOfAHealthyLeftOpenResultEndsGoMssqldbsReader is
// TestReleaseWithAResultSetLeftOpenEndsGoMssqldbsReader with the Close that
// Release makes of the result set left open taking longer than CancelGrace
// on a healthy server (a long reply, a slow link, or, here, a CancelGrace
// far shorter than the drain). Since 5b2bbf5 that Close is cut CancelGrace
// after Release began, whatever the query's ctx (context.Background()
// here, which nothing bounded before): go-mssqldb's reader is then cut
// mid-reply, and the connection is closed, giving its buffer back to the
// pool every connection shares, while another caller keeps logging in.
// closeLeftRows' own doc says why that must not happen: the reader must
// have ended before the connection is closed.
func TestReleaseCutOfAHealthyLeftOpenResultEndsGoMssqldbsReader(t *testing.T) {
	srv := startServer(t)
	var logs syncbuf.Buffer
	d, err := sqlserver.NewDialer(dsnFor(srv, ""))
	require.NoError(t, err)
	m, err := manager.New(manager.Config{Server: d.ServerKey(), Dialer: d, MaxSize: 4, HealthCheckAfter: -1,
		CancelGrace: time.Microsecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close(ctxT(t))) })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	stopOther := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopOther()
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			l, err := m.Acquire(ctx, tokens.SQLLogin())
			if err != nil {
				t.Error(err)
				return
			}
			rows := queryOnLease(t, l, "SELECT 'other'")
			dest := make([]driver.Value, 1)
			for rows.Next(dest) == nil {
			}
			_ = rows.Close()
			l.Release(nil)
		}
	})

	q := longReply()
	for range 20 {
		l, err := m.Acquire(ctx, tokens.SQLLogin())
		require.NoError(t, err)
		rows := queryOnLease(t, l, q)
		dest := make([]driver.Value, 1)
		require.NoError(t, rows.Next(dest))
		l.Release(nil) // the result set left open; its Close is cut
		require.ErrorIs(t, rows.Next(dest), manager.ErrLeaseReleased)
	}
	stopOther()
	awaitNoReader(t)
	require.Zero(t, m.Stats().Total.Busy)
	t.Logf("cuts at Release: %d", strings.Count(logs.String(), "closing a result set left open"))
}

// TestReleaseWithALeftOpenResultOnASilentServerIsBounded: the SQL
// Server side of 5b2bbf5, which only PostgreSQL tests pinned: a result set
// left open under context.Background(), the server silent mid-reply,
// Release. go-mssqldb's Close cancels and waits for the server's
// confirmation (5 s, twice); Release must return within CancelGrace of
// beginning, end go-mssqldb's reader, and give the slot back.
func TestReleaseWithALeftOpenResultOnASilentServerIsBounded(t *testing.T) {
	rig := startSilentRig(t)
	m := newCancelManager(t, rig.dsn, cancelGrace)
	l, err := m.Acquire(ctxT(t), tokens.SQLLogin())
	require.NoError(t, err)
	rows := queryOnLease(t, l, longReply())
	require.NoError(t, rows.Next(make([]driver.Value, 1)))
	rig.proxy.SilenceOpen()
	start := time.Now()
	l.Release(nil)
	took := time.Since(start)
	t.Logf("Release took %s", took.Round(time.Millisecond))
	require.Less(t, took, cancelGrace+cancelMargin, "Release bounded by CancelGrace from its start")
	awaitNoReader(t)
	require.Zero(t, m.Stats().Total.Busy)
}
