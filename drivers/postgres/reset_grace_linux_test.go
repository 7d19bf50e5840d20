package postgres_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/manager"
)

// TestAFullResetAtReleaseOnAStoppedServerIsBoundedByCancelGrace: a lease
// that PREPAREd a statement needs the full reset (DISCARD ALL, a round
// trip) at Release, which database/sql makes in the caller's goroutine: at
// (*sql.Conn).Close here, and before any db-level call returns. Against a
// server that stopped answering (SIGSTOP) that round trip waited for the
// driver's own 10 s bound, although Release's other work (the rollback and
// the result-set Close of what the caller left open) is cut at
// CancelGrace. It must be bounded by CancelGrace too, and the connection
// not kept.
func TestAFullResetAtReleaseOnAStoppedServerIsBoundedByCancelGrace(t *testing.T) {
	e := newPgxEnvNoPool(t)
	const grace = 100 * time.Millisecond
	db, err := postgres.OpenDB(e.dsn, manager.Config{MaxSize: 1, CancelGrace: grace}, postgres.WithUser(roleOf))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	ctx := as(t, e.alice)
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	var pid int
	require.NoError(t, conn.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid))
	_, err = conn.ExecContext(ctx, "PREPARE p AS SELECT 1") // needs the full reset
	require.NoError(t, err)

	require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
	stopped := true
	defer func() {
		if stopped {
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}()
	done := make(chan error, 1)
	go func() { done <- conn.Close() }()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(5 * time.Second): // half the driver's own bound
		t.Errorf("Release's DISCARD ALL on a stopped server ran past CancelGrace (%v)", grace)
		<-done
	}
	require.NoError(t, syscall.Kill(pid, syscall.SIGCONT))
	stopped = false

	var again int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&again))
	assert.NotEqual(t, pid, again, "the connection whose reset was cut short was kept")
}
