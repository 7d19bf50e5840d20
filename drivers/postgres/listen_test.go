package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/manager"
)

// TestNextLeaseThatOnlyReadsGetsNoOldNotification: the deferred reset goes
// in front of the next request, but pgx.Conn.WaitForNotification sends
// none: it only reads. A lease that waits for notifications as its first
// call on a reused connection must still find the last lease's LISTENs
// ended, not receive what was sent to their channels after the release.
func TestNextLeaseThatOnlyReadsGetsNoOldNotification(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 2})
	ctx := as(t, e.alice)

	l1, err := e.pool.Acquire(ctx)
	require.NoError(t, err)
	pid := backendPID(t, ctx, l1)
	conn := l1.Conn()
	_, err = l1.Exec(ctx, "LISTEN lease_one_channel")
	require.NoError(t, err)
	l1.Release()

	l2, err := e.pool.Acquire(ctx)
	require.NoError(t, err)
	defer l2.Release()
	require.Same(t, conn, l2.Conn(), "the released connection is reused")
	// Sent on another connection of the pool, to the old channel.
	_, err = e.pool.Exec(ctx, "NOTIFY lease_one_channel, 'for lease 1 only'")
	require.NoError(t, err)

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := make(chan *pgconn.Notification, 1)
	go func() {
		n, _ := l2.Conn().WaitForNotification(wctx)
		got <- n
	}()
	// Either the notification crosses over (the bug), or the reset runs
	// on the session before the wait reads anything: the server then shows
	// the reset's last statement as the session's latest.
	reset := func() bool {
		return e.srv.QueryInt(t, `SELECT count(*) FROM pg_stat_activity
			WHERE pid = $1 AND state = 'idle' AND query = 'RESET ALL'`, pid) == 1
	}
	tick := time.NewTicker(5 * time.Millisecond) // polls the server; orders nothing
	defer tick.Stop()
	for done := false; !done; {
		select {
		case n := <-got:
			require.Nil(t, n, "lease 2 received a notification for lease 1's LISTEN: %+v", n)
			t.Fatal("WaitForNotification returned before its ctx ended")
		case <-tick.C:
			done = reset()
		case <-ctx.Done():
			t.Fatal("the session reset never ran")
		}
	}
	cancel()
	assert.Nil(t, <-got, "lease 2 received a notification for lease 1's LISTEN")
}
