package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/internal/pgtest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// TestPGCancelledStatementIsNotReused: a statement cut short by its ctx
// leaves its session in an unknown state, so the pool closes that session
// and the next caller runs on a new one; a statement the server itself
// cancels (statement_timeout) is an ordinary SQL error and keeps it.
func TestPGCancelledStatementIsNotReused(t *testing.T) {
	srv := pgtest.Shared(t)
	p := pgSQLLoginPool(t, srv, "cancel", manager.Config{MaxSize: 1, HealthCheckAfter: -1})
	ctx := pgCtx(t)

	// gone waits until the session pid has left the server and nothing of
	// the role still sleeps.
	gone := func(t *testing.T, pid int) {
		t.Helper()
		pgEventually(t, 10*time.Second, func() bool {
			return !pgAlive(t, srv, pid) && pgActive(t, srv, p.role, "pg_sleep") == 0
		}, "the cancelled session %d is still on the server", pid)
	}

	t.Run("ctx cancelled via the facade", func(t *testing.T) {
		pid := pgMustPID(t, ctx, p.db)
		st := p.stats()
		stmtCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		done := make(chan error, 1)
		go func() {
			_, err := p.db.ExecContext(stmtCtx, "SELECT pg_sleep(60)")
			done <- err
		}()
		pgEventually(t, 10*time.Second, func() bool { return pgActive(t, srv, p.role, "pg_sleep(60)") == 1 },
			"the statement never started")
		cancel()
		select {
		case err := <-done:
			require.ErrorIs(t, err, context.Canceled)
		case <-time.After(20 * time.Second):
			t.Fatal("the cancelled statement did not return")
		}

		next := pgMustPID(t, ctx, p.db)
		assert.NotEqual(t, pid, next, "a connection cancelled mid-statement was reused")
		after := p.stats()
		assert.Equal(t, st.Closes["broken"]+1, after.Closes["broken"])
		assert.Equal(t, st.Opens+1, after.Opens)
		assert.Equal(t, 1, after.Open)
		gone(t, pid)
	})

	t.Run("deadline on a lease", func(t *testing.T) {
		l, err := p.db.Manager.Acquire(ctx, tokens.SQLLogin())
		require.NoError(t, err)
		pid := pgLeasePID(t, ctx, l)
		st := p.stats()
		stmtCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		_, err = pgLeaseScalar(stmtCtx, l, "SELECT pg_sleep(60)")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		// Even a caller that forgets the error does not get the session
		// back into the pool: the lease noted the cut-short call.
		l.Release(nil)

		next := pgMustPID(t, ctx, p.db)
		assert.NotEqual(t, pid, next)
		assert.Equal(t, st.Closes["broken"]+1, p.stats().Closes["broken"])
		assert.Equal(t, 1, p.stats().Open)
		gone(t, pid)
	})

	t.Run("statement_timeout keeps the session", func(t *testing.T) {
		pid := pgMustPID(t, ctx, p.db)
		st := p.stats()
		tx, err := p.db.BeginTx(ctx, nil)
		require.NoError(t, err)
		_, err = tx.ExecContext(ctx, "SET LOCAL statement_timeout = '50ms'")
		require.NoError(t, err)
		_, err = tx.ExecContext(ctx, "SELECT pg_sleep(60)")
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr)
		assert.Equal(t, "57014", pgErr.Code, "query_canceled")
		require.NoError(t, tx.Rollback())

		assert.Equal(t, pid, pgMustPID(t, ctx, p.db), "an application error must keep the session")
		var timeout string
		require.NoError(t, p.db.QueryRowContext(ctx, "SHOW statement_timeout").Scan(&timeout))
		assert.Equal(t, "0", timeout)
		assert.Equal(t, st.Closes["broken"], p.stats().Closes["broken"])
		assert.Equal(t, st.Opens, p.stats().Opens)
	})

	t.Run("acquire queued behind the busy connection times out", func(t *testing.T) {
		c, err := p.db.Conn(ctx)
		require.NoError(t, err)
		pid := pgMustPID(t, ctx, c)
		st := p.stats()
		waitCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		_, err = pgPID(waitCtx, p.db)
		require.ErrorIs(t, err, manager.ErrAcquireTimeout)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.NoError(t, c.Close())

		assert.Equal(t, pid, pgMustPID(t, ctx, p.db), "a timed-out waiter disturbs nothing")
		after := p.stats()
		assert.Equal(t, st.Timeouts+1, after.Timeouts)
		assert.Equal(t, st.Opens, after.Opens)
		assert.Equal(t, 1, after.Open)
	})

	t.Run("acquires that give up while their dial is in flight", func(t *testing.T) {
		// A cold pool of its own: each acquire must dial (a SCRAM login),
		// and a 1ms deadline ends it first. The dial that finishes later
		// must land in the pool, not leak a slot or a session.
		q := pgSQLLoginPool(t, srv, "canceldial", manager.Config{MaxSize: 2, HealthCheckAfter: -1})
		gaveUp := 0
		for range 10 {
			dialCtx, cancel := context.WithTimeout(ctx, time.Millisecond)
			_, err := pgPID(dialCtx, q.db)
			cancel()
			if err != nil {
				require.ErrorIs(t, err, context.DeadlineExceeded)
				gaveUp++
			}
		}
		t.Logf("%d of 10 acquires gave up before their connection arrived", gaveUp)
		pgEventually(t, 10*time.Second, func() bool {
			st := q.stats()
			return st.Dialing == 0 && st.Busy == 0 && st.Idle == st.Open
		}, "the pool does not settle: %+v", func() any { return q.stats() })
		st := q.stats()
		assert.LessOrEqual(t, st.Open, 2)
		pgAccounted(t, st)
		// Both slots are usable: nothing was lost to the abandoned grants.
		conns, _ := pgHoldConns(t, ctx, q.db, 2)
		pgCloseAll(t, conns)
		pgEventually(t, 10*time.Second, func() bool { return srv.Backends(t, q.role) == q.stats().Open },
			"the server's sessions differ from the pool's")
	})
}
