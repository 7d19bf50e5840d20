package postgres_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/manager"
)

// TestAWaitThatTimesOutBeforeTheResetsRepliesLeavesTheLeaseUsable: a lease
// whose first call only reads (WaitForNotification) sends the deferred
// reset on its own; a wait bounded by a timeout can end before the reset's
// replies arrive. That loses nothing (the replies are still taken out when
// they come), so the lease's next call must work on the same session,
// rather than fail with an error blaming the reset. The server process is
// stopped (SIGSTOP) so that no reply can come before the wait's deadline.
func TestAWaitThatTimesOutBeforeTheResetsRepliesLeavesTheLeaseUsable(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 1})
	ctx := as(t, e.alice)

	l1, err := e.pool.Acquire(ctx)
	require.NoError(t, err)
	pid := backendPID(t, ctx, l1)
	_, err = l1.Exec(ctx, "SET application_name = DEFAULT") // a call, so that the release defers
	require.NoError(t, err)
	l1.Release()

	l2, err := e.pool.Acquire(ctx)
	require.NoError(t, err)
	defer l2.Release()

	require.NoError(t, syscall.Kill(int(pid), syscall.SIGSTOP))
	stopped := true
	defer func() {
		if stopped {
			_ = syscall.Kill(int(pid), syscall.SIGCONT)
		}
	}()
	wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	n, err := l2.Conn().WaitForNotification(wctx)
	cancel()
	require.Nil(t, n)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotContains(t, err.Error(), "session reset")
	require.NoError(t, syscall.Kill(int(pid), syscall.SIGCONT))
	stopped = false

	assert.Equal(t, pid, backendPID(t, ctx, l2), "the same session, usable")
}

// TestACallOnAStoppedServerReturnsAtItsCtx: pgx bounds a call by its ctx
// itself (a deadline on its socket once the ctx ends), so PostgreSQL needs
// no CancelGrace (docs/OPERATIONS.md): a call to a backend that stopped
// answering (SIGSTOP) returns at its ctx, not when the server wakes, and
// its connection is not kept.
func TestACallOnAStoppedServerReturnsAtItsCtx(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 1})
	ctx := as(t, e.alice)
	l, err := e.pool.Acquire(ctx)
	require.NoError(t, err)
	pid := backendPID(t, ctx, l)

	require.NoError(t, syscall.Kill(int(pid), syscall.SIGSTOP))
	stopped := true
	defer func() {
		if stopped {
			_ = syscall.Kill(int(pid), syscall.SIGCONT)
		}
	}()
	qctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = l.Exec(qctx, "SELECT 1")
	end, _ := qctx.Deadline()
	late := time.Since(end)
	require.Error(t, err, "a stopped backend answers nothing")
	assert.Less(t, late, 2*time.Second, "the call returned %s after its ctx ended", late)
	require.NoError(t, syscall.Kill(int(pid), syscall.SIGCONT))
	stopped = false
	l.Release()

	l, err = e.pool.Acquire(ctx)
	require.NoError(t, err)
	defer l.Release()
	assert.NotEqual(t, pid, backendPID(t, ctx, l), "the connection of a call cut short by its ctx was closed")
}
