package e2e

import (
	"context"
	"database/sql/driver"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/internal/pgtest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// pgSessionState is one kind of session state a lease can leave behind, with
// a probe that answers set while it is there and clean once it is gone.
type pgSessionState struct {
	name string
	// grant runs as the superuser before the pool's first login, with the
	// login role and a second role for %[1]s and %[2]s.
	grant []string
	// set runs on the first lease, with %[2]s the second role.
	set        []string
	probe      string
	set1, gone string // probe's answers; %[1]s login role, %[2]s other
}

var pgSessionStates = []pgSessionState{
	{name: "SET", set: []string{"SET statement_timeout = '4242s'"},
		probe: "SHOW statement_timeout", set1: "4242s", gone: "0"},
	{name: "set_config", set: []string{"SELECT set_config('idpool.secret', 'leaked', false)"},
		probe: "SELECT coalesce(current_setting('idpool.secret', true), '')", set1: "leaked", gone: ""},
	{name: "SET ROLE", grant: []string{"GRANT %[2]s TO %[1]s"}, set: []string{"SET ROLE %[2]s"},
		probe: "SELECT current_user::text", set1: "%[2]s", gone: "%[1]s"},
	{name: "SET SESSION AUTHORIZATION", grant: []string{"ALTER ROLE %[1]s SUPERUSER"},
		set:   []string{"SET SESSION AUTHORIZATION %[2]s"},
		probe: "SELECT session_user || '/' || current_user", set1: "%[2]s/%[2]s", gone: "%[1]s/%[1]s"},
	{name: "temp table", set: []string{"CREATE TEMP TABLE leak AS SELECT 1 AS x"},
		probe: "SELECT coalesce(to_regclass('pg_temp.leak')::text, 'none')", set1: "leak", gone: "none"},
	{name: "PREPARE", set: []string{"PREPARE leak AS SELECT 1"},
		probe: "SELECT count(*) FROM pg_prepared_statements WHERE name = 'leak'", set1: "1", gone: "0"},
	{name: "advisory lock", set: []string{"SELECT pg_advisory_lock(4242)"},
		probe: "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()", set1: "1", gone: "0"},
	{name: "LISTEN", set: []string{"LISTEN leak"},
		probe: "SELECT count(*) FROM pg_listening_channels()", set1: "1", gone: "0"},
}

// pgResetPool is a one-connection SQL-login pool (MaxSize 1, so the next
// lease surely gets the same physical connection) whose role got st's grants
// before logging in, and the second role.
func pgResetPool(t *testing.T, st pgSessionState) (*pgPool, string) {
	t.Helper()
	srv := pgtest.Shared(t)
	p := pgSQLLoginPool(t, srv, "rst", manager.Config{MaxSize: 1})
	other, _ := srv.NewRole(t, "rstother")
	for _, g := range st.grant {
		srv.Exec(t, fmt.Sprintf(g, p.role, other))
	}
	return p, other
}

// fill puts the login role and the other role into s.
func fill(s, role, other string) string {
	return fmt.Sprintf(s+"%.0[1]s%.0[2]s", role, other)
}

// pgLeaseQuery runs q on the lease's connection and returns its first column.
func pgLeaseQuery(t *testing.T, ctx context.Context, l *manager.Lease, q string) string {
	t.Helper()
	rows, err := l.Conn().QueryContext(ctx, q, nil)
	require.NoError(t, err, q)
	defer func() { require.NoError(t, rows.Close()) }()
	dest := make([]driver.Value, len(rows.Columns()))
	require.NoError(t, rows.Next(dest), q)
	return fmt.Sprint(dest[0])
}

// TestPGResetThroughLease: state set on a lease's connection is gone for the
// next lease of the same physical connection (same backend pid).
func TestPGResetThroughLease(t *testing.T) {
	for _, st := range pgSessionStates {
		t.Run(st.name, func(t *testing.T) {
			p, other := pgResetPool(t, st)
			ctx := pgCtx(t)
			m := p.db.Manager

			l, err := m.Acquire(ctx, tokens.SQLLogin())
			require.NoError(t, err)
			defer l.Release(nil) // on failure; Release is idempotent
			pid := pgLeaseQuery(t, ctx, l, "SELECT pg_backend_pid()")
			for _, s := range st.set {
				_, err := l.Conn().ExecContext(ctx, fill(s, p.role, other), nil)
				require.NoError(t, err, s)
			}
			require.Equal(t, fill(st.set1, p.role, other), pgLeaseQuery(t, ctx, l, st.probe), "the state was set")
			l.Release(nil)

			l, err = m.Acquire(ctx, tokens.SQLLogin())
			require.NoError(t, err)
			defer l.Release(nil)
			require.Equal(t, pid, pgLeaseQuery(t, ctx, l, "SELECT pg_backend_pid()"), "the same session")
			assert.Equal(t, fill(st.gone, p.role, other), pgLeaseQuery(t, ctx, l, st.probe), "the state crossed the release")
			assert.EqualValues(t, 1, p.stats().Opens)
		})
	}
}

// TestPGResetThroughFacade: the same through the *sql.DB facade, where each
// call outside a *sql.Conn or transaction is a lease of its own: state set by
// one call is gone for the next call, on the same session.
func TestPGResetThroughFacade(t *testing.T) {
	for _, st := range pgSessionStates {
		t.Run(st.name, func(t *testing.T) {
			p, other := pgResetPool(t, st)
			ctx := pgCtx(t)
			db := p.db

			// A *sql.Conn holds one lease: the state is there while it
			// lasts.
			c, err := db.Conn(ctx)
			require.NoError(t, err)
			defer c.Close()
			pid := pgMustPID(t, ctx, c)
			for _, s := range st.set {
				_, err := c.ExecContext(ctx, fill(s, p.role, other))
				require.NoError(t, err, s)
			}
			var got string
			require.NoError(t, c.QueryRowContext(ctx, st.probe).Scan(&got))
			require.Equal(t, fill(st.set1, p.role, other), got, "the state was set")
			require.NoError(t, c.Close())

			require.Equal(t, pid, pgMustPID(t, ctx, db), "the same session")
			require.NoError(t, db.QueryRowContext(ctx, st.probe).Scan(&got))
			assert.Equal(t, fill(st.gone, p.role, other), got, "the state crossed from a *sql.Conn")

			// One *sql.DB call sets it, the next one must not see it.
			for _, s := range st.set {
				_, err := db.ExecContext(ctx, fill(s, p.role, other))
				require.NoError(t, err, s)
			}
			require.NoError(t, db.QueryRowContext(ctx, st.probe).Scan(&got))
			assert.Equal(t, fill(st.gone, p.role, other), got, "the state crossed from a *sql.DB call")
			require.Equal(t, pid, pgMustPID(t, ctx, db), "the same session")
			assert.EqualValues(t, 1, p.stats().Opens)
		})
	}
}

// TestPGPreparedStatementsWorkAcrossResets: the reset drops the server's
// prepared statements, and pgx's caches of them follow: a parameterised query
// (pgx prepares and caches it), a named pgx statement and a *sql.Stmt each
// work on lease after lease of the same session.
func TestPGPreparedStatementsWorkAcrossResets(t *testing.T) {
	srv := pgtest.Shared(t)
	p := pgSQLLoginPool(t, srv, "rstps", manager.Config{MaxSize: 1})
	ctx := pgCtx(t)
	var pid int
	for round := range 3 {
		l, err := p.db.Manager.Acquire(ctx, tokens.SQLLogin())
		require.NoError(t, err)
		defer l.Release(nil) // on failure; Release is idempotent
		pc := l.Raw().(*stdlib.Conn).Conn()
		var got, n int
		require.NoError(t, pc.QueryRow(ctx, "SELECT $1::int + 1, pg_backend_pid()", round).Scan(&got, &n), "round %d", round)
		assert.Equal(t, round+1, got)
		if round == 0 {
			pid = n
		}
		require.Equal(t, pid, n, "the same session")
		_, err = pc.Prepare(ctx, "plus2", "SELECT $1::int + 2")
		require.NoError(t, err, "round %d", round)
		require.NoError(t, pc.QueryRow(ctx, "plus2", round).Scan(&got), "round %d", round)
		assert.Equal(t, round+2, got)
		l.Release(nil)

		// And through the facade, on a *sql.Conn's *sql.Stmt.
		c, err := p.db.Conn(ctx)
		require.NoError(t, err)
		defer c.Close()
		stmt, err := c.PrepareContext(ctx, "SELECT $1::int + 3")
		require.NoError(t, err)
		require.NoError(t, stmt.QueryRowContext(ctx, round).Scan(&got), "round %d", round)
		assert.Equal(t, round+3, got)
		require.NoError(t, c.Close())
		require.NoError(t, p.db.QueryRowContext(ctx, "SELECT $1::int + 4", round).Scan(&got), "round %d", round)
		assert.Equal(t, round+4, got)
	}
	assert.EqualValues(t, 1, p.stats().Opens)
	assert.Zero(t, p.stats().Closes["broken"], "no reset failed")
}

// TestPGStatementCacheSurvivesReleases: the reset keeps the statements of
// pgx's cache prepared, so a *sql.Stmt through the facade, and a repeated
// query through the pgx-native Pool, are prepared once on the session across
// lease after lease: the server's prepare_time of each stays the same.
//
// A release may run the full reset instead (DISCARD ALL), by design: when
// pgconn's background reader, which a write slower than 15 ms starts, is
// still in a Read (a loaded machine), and the test cannot prevent that. The
// full reset deallocates every statement, idpool's own reset statements
// (idpool_session_reset_N) among them, which the next deferred reset
// prepares again: so a round whose reset statements kept their
// prepare_time had no full reset since the last look, and there each
// statement must have kept its own.
func TestPGStatementCacheSurvivesReleases(t *testing.T) {
	srv := pgtest.Shared(t)
	p := pgSQLLoginPool(t, srv, "rstkeep", manager.Config{MaxSize: 1})
	ctx := tokens.WithIdentity(pgCtx(t), tokens.SQLLogin())
	pool := postgres.NewPool(p.db.Manager)
	const viaStmt, viaPgx = "SELECT $1::int + 5", "SELECT $1::int + 6"
	// prepared returns the prepare_time of the two statements and that of
	// idpool's reset statements (the earliest), as the session has them:
	// "" for one it has not (a full reset deallocated it, and it has not
	// been prepared again yet).
	prepared := func(round int) (stmts [2]string, reset string) {
		rows, err := p.db.QueryContext(ctx, `SELECT statement, name, prepare_time::text FROM pg_prepared_statements
			WHERE statement IN ($1, $2) OR name LIKE 'idpool_session_reset%' ORDER BY prepare_time`, viaStmt, viaPgx)
		require.NoError(t, err)
		defer rows.Close()
		for rows.Next() {
			var statement, name, at string
			require.NoError(t, rows.Scan(&statement, &name, &at))
			switch {
			case statement == viaStmt:
				stmts[0] = at
			case statement == viaPgx:
				stmts[1] = at
			case reset == "":
				reset = at
			}
		}
		require.NoError(t, rows.Err())
		return stmts, reset
	}
	stmt, err := p.db.PrepareContext(ctx, viaStmt)
	require.NoError(t, err)
	defer stmt.Close()
	const rounds = 10
	var last [2]string
	var lastReset string
	compared := 0
	for round := range rounds {
		var got int
		require.NoError(t, stmt.QueryRowContext(ctx, round).Scan(&got), "round %d", round)
		require.Equal(t, round+5, got)
		require.NoError(t, pool.QueryRow(ctx, viaPgx, round).Scan(&got), "round %d", round)
		require.Equal(t, round+6, got)
		now, reset := prepared(round)
		if round > 0 && reset != "" && reset == lastReset {
			require.NotEmpty(t, now[0], "round %d: the *sql.Stmt's statement is gone with no full reset", round)
			require.NotEmpty(t, now[1], "round %d: the pgx-native query's statement is gone with no full reset", round)
			require.Equal(t, last, now, "round %d: a statement was prepared again with no full reset", round)
			compared++
		}
		last, lastReset = now, reset
	}
	// Full resets are the exception: most rounds must show the statements
	// kept, or this test would show nothing.
	assert.GreaterOrEqual(t, compared, (rounds-1)/2, "rounds with no full reset since the last")
	assert.EqualValues(t, 1, p.stats().Opens, "one session throughout")
	assert.Zero(t, p.stats().Closes["broken"], "no reset failed")
}

// TestPGDeferredResetFailsClosed: a session the server ended while it sat
// idle in the pool makes the reset in front of the next call fail. Through
// the pgx-native Pool that call fails; through the facade the error is
// driver.ErrBadConn, since the call did not run, and database/sql runs it
// again on a fresh session. Either way the call after it gets a fresh
// session.
func TestPGDeferredResetFailsClosed(t *testing.T) {
	srv := pgtest.Shared(t)
	// No health check: an idle session older than HealthCheckAfter (1 s by
	// default, which a loaded machine can take between the Terminate and
	// the call) would be checked, found dead and replaced before the call,
	// which then never meets the failed reset.
	p := pgSQLLoginPool(t, srv, "rstfail", manager.Config{MaxSize: 1, HealthCheckAfter: -1})
	ctx := tokens.WithIdentity(pgCtx(t), tokens.SQLLogin())
	pool := postgres.NewPool(p.db.Manager)
	pid := func(q func(string) (int, error)) int {
		n, err := q("SELECT pg_backend_pid()")
		require.NoError(t, err)
		return n
	}
	viaFacade := func(sql string) (n int, err error) { return n, p.db.QueryRowContext(ctx, sql).Scan(&n) }
	viaPgx := func(sql string) (n int, err error) { return n, pool.QueryRow(ctx, sql).Scan(&n) }
	for _, tc := range []struct {
		name string
		q    func(string) (int, error)
		// retried: the facade's error is driver.ErrBadConn (the call did
		// not run), so database/sql runs it again on a new session.
		retried bool
	}{{"facade", viaFacade, true}, {"pgx", viaPgx, false}} {
		before := pid(tc.q)
		require.Equal(t, 1, srv.Terminate(t, p.role))
		got, err := tc.q("SELECT pg_backend_pid()")
		if tc.retried {
			require.NoError(t, err, "%s: database/sql runs the call again", tc.name)
			assert.NotEqual(t, before, got, "%s: on a fresh session", tc.name)
		} else {
			require.Error(t, err, "%s: the call behind the failed reset", tc.name)
		}
		after := pid(tc.q)
		assert.NotEqual(t, before, after, "%s: a fresh session", tc.name)
	}
	assert.EqualValues(t, 3, p.stats().Opens)
}
