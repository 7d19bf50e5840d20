package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/manager"
)

// TestAForcedCloseWaitsForTheQueryInsidePgx: a lease's query runs under a
// ctx that never ends against a server gone silent, and Manager.Close's ctx
// ends. Close cuts the connection's transport once its CloseGrace has
// passed: the query fails on the cut, and pgx cleans up after it on the
// query's goroutine. The pool's Close of that pgx connection used to run
// at the same time, a data race in pgx (the race detector reports it);
// it now waits for the query to leave the connection. Close still returns
// within its ctx plus CloseGrace (and the margin), reporting the lease
// closed by force, and the connection's Close follows the query's end.
func TestAForcedCloseWaitsForTheQueryInsidePgx(t *testing.T) {
	e := newSilentEnv(t, manager.Config{MaxSize: 1})
	ctx := as(t, e.alice)
	l, err := e.pool.Acquire(ctx)
	require.NoError(t, err)
	pid := backendPID(t, ctx, l)
	// The backend sleeps for good: end it once the test is done (before
	// the proxy and the Pool close; cleanups run last first).
	t.Cleanup(func() { e.srv.Terminate(t, e.aliceRole) })

	got := make(chan error, 1)
	go func() {
		_, err := l.Exec(context.WithoutCancel(ctx), "SELECT pg_sleep(3600)")
		got <- err
	}()
	// The query is inside pgx once the server runs it.
	require.Eventually(t, func() bool {
		return e.srv.QueryInt(t, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND query LIKE 'SELECT pg_sleep%' AND state = 'active'", pid) == 1
	}, 10*time.Second, 5*time.Millisecond, "the query never reached the server")
	e.proxy.SilenceOpen()

	const closeCtx = 200 * time.Millisecond
	cctx, cancel := context.WithTimeout(context.Background(), closeCtx)
	defer cancel()
	start := time.Now()
	err = e.pool.Manager().Close(cctx)
	took := time.Since(start)
	t.Logf("Close returned after %v (ctx %v + CloseGrace %v)", took.Round(time.Millisecond), closeCtx, manager.CloseGrace)
	assert.Less(t, took, closeCtx+manager.CloseGrace+leftOpenMargin, "Close overshot its ctx plus CloseGrace")
	var ce *manager.CloseError
	require.ErrorAs(t, err, &ce)
	assert.True(t, errors.Is(err, context.DeadlineExceeded))
	// Close reads its figures from the actors for at most CloseGrace more:
	// an actor scheduled later than that (a loaded machine) leaves them
	// out, and Close says so (Unanswered). Stats, below, waits for the
	// actors and counts the forced close either way.
	if !ce.Unanswered {
		assert.Equal(t, 1, ce.Forced, "the lease was closed by force")
	}

	select {
	case err := <-got:
		require.Error(t, err, "the query succeeded on a silent server")
	case <-time.After(leftOpenGrace + leftOpenMargin):
		t.Fatal("the query still runs after the forced Close cut its transport")
	}
	m := e.pool.Manager()
	require.Eventually(t, func() bool { return m.Stats().Total.ClosingConns == 0 }, leftOpenMargin, time.Millisecond,
		"the connection's Close never came after the query left")
	assert.EqualValues(t, 1, m.Stats().Total.Closes["forced"])
	assert.Zero(t, m.Stats().Total.Open)
	l.Release() // ignored: the connection is gone
}
