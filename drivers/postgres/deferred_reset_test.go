package postgres

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sessionOf returns the sessionConn under a dialed connection.
func sessionOf(t *testing.T, c *pgx.Conn) *sessionConn {
	t.Helper()
	sc, ok := c.PgConn().Conn().(*sessionConn)
	require.True(t, ok, "the dialer wraps the connection, got %T", c.PgConn().Conn())
	return sc
}

// readsInFlight is how many Reads are in progress on the connection.
func (c *sessionConn) readsInFlight() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reading
}

// TestDeferredResetDiscardsEverySessionState: a lease that sets every kind
// of session state the deferred reset covers is released with no round
// trip, and the next request finds none of it, on the same session.
func TestDeferredResetDiscardsEverySessionState(t *testing.T) {
	sc, pc, srv, role := resetConn(t, "dfrall")
	other, _ := srv.NewRole(t, "dfrother")
	srv.Exec(t, "GRANT "+other+" TO "+role)
	ctx := resetCtx(t)
	pid := queryString(t, ctx, pc, "SELECT pg_backend_pid()::text")
	for _, sql := range []string{
		"SET statement_timeout = '4242s'",
		"SET lock_timeout = '1ms'",
		"SELECT set_config('idpool.secret', 'leaked', false)",
		"SET ROLE " + other,
		"CREATE TEMP TABLE leak (x int)",
		"CREATE TEMP SEQUENCE leakseq",
		"SELECT nextval('leakseq')",
		// Taken by server-side code, out of requestWatch's sight (a call
		// in the text makes the release run the full reset instead).
		"DO $$ BEGIN EXECUTE 'SELECT pg_' || 'advisory_lock(4242)'; END $$",
		"LISTEN leakchan",
		"DECLARE leakcur CURSOR WITH HOLD FOR SELECT 1",
	} {
		_, err := pc.Exec(ctx, sql)
		require.NoError(t, err, sql)
	}
	state := `SELECT concat_ws(',', current_setting('statement_timeout'), current_setting('lock_timeout'),
		coalesce(current_setting('idpool.secret', true), ''), current_user,
		(SELECT count(*) FROM pg_class WHERE relname = 'leak' AND relnamespace = pg_my_temp_schema()),
		(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()),
		(SELECT count(*) FROM pg_listening_channels()),
		(SELECT count(*) FROM pg_cursors WHERE name = 'leakcur'),
		current_setting('exit_on_error'))`
	// Read over the simple protocol: a statement of pgx's cache prepared
	// under the lease's role and temporary table would make the release
	// run the full reset instead (TestDeferredResetFallsBackForAStatementOfTheLeasesNames).
	var set string
	require.NoError(t, pc.QueryRow(ctx, state, pgx.QueryExecModeSimpleProtocol).Scan(&set))
	require.Equal(t, "4242s,1ms,leaked,"+other+",1,1,1,1,off", set, "the state was set")

	EndStrayRead(t, ctx, pc)
	deferred, full, _ := sessionOf(t, pc).counts()
	require.NoError(t, sc.ResetSession(ctx))
	d2, f2, _ := sessionOf(t, pc).counts()
	require.Equal(t, [2]int{deferred + 1, full}, [2]int{d2, f2}, "the reset was deferred")

	assert.Equal(t, "0,0,,"+role+",0,0,0,0,off", queryString(t, ctx, pc, state))
	var n int64
	err := pc.QueryRow(ctx, "SELECT lastval()").Scan(&n)
	assert.ErrorContains(t, err, "not yet defined", "sequences' currval is forgotten")
	assert.Equal(t, pid, queryString(t, ctx, pc, "SELECT pg_backend_pid()::text"), "the same session")
}

// TestDeferredResetEndsSessionAuthorization: a superuser's SET SESSION
// AUTHORIZATION is undone by the deferred reset too.
func TestDeferredResetEndsSessionAuthorization(t *testing.T) {
	sc, pc, srv, role := resetConn(t, "dfrsu", "ALTER ROLE %s SUPERUSER")
	other, _ := srv.NewRole(t, "dfrsuother")
	ctx := resetCtx(t)
	_, err := pc.Exec(ctx, "SET SESSION AUTHORIZATION "+other)
	require.NoError(t, err)
	require.Equal(t, other+","+other, queryString(t, ctx, pc, "SELECT session_user || ',' || current_user"))
	require.NoError(t, sc.ResetSession(ctx))
	assert.Equal(t, role+","+role, queryString(t, ctx, pc, "SELECT session_user || ',' || current_user"))
	assert.Equal(t, role, pc.PgConn().ParameterStatus("session_authorization"), "pgx sees the login's again")
}

// TestDeferredResetKeepsPgxStatements: the statements of pgx's cache stay
// prepared across releases, so a query text is parsed once per connection,
// not once per lease.
func TestDeferredResetKeepsPgxStatements(t *testing.T) {
	sc, pc, _, _ := resetConn(t, "dfrkeep")
	ctx := resetCtx(t)
	const q = "SELECT ($1::int + 1)::text"
	_, full, parses := sessionOf(t, pc).counts()
	for round := range 10 {
		var s string
		require.NoError(t, pc.QueryRow(ctx, q, round).Scan(&s), "round %d", round)
		require.Equal(t, strconv.Itoa(round+1), s)
		EndStrayRead(t, ctx, pc)
		require.NoError(t, sc.ResetSession(ctx))
	}
	_, full2, parses2 := sessionOf(t, pc).counts()
	assert.Equal(t, full, full2, "no release needed the full reset")
	assert.Equal(t, 1, parses2-parses, "the query was parsed once across ten leases")
	assert.EqualValues(t, 1, serverStatements(t, ctx, pc), "and is still prepared on the server")
}

// TestDeferredResetFallsBackForExplicitStatements: a statement prepared by
// name through pgx (not its cache) makes the release run the full reset, so
// pgx forgets it with the server: the next lease cannot use it, and can
// prepare the same name again.
func TestDeferredResetFallsBackForExplicitStatements(t *testing.T) {
	sc, pc, _, _ := resetConn(t, "dfrnamed")
	ctx := resetCtx(t)
	_, err := pc.Prepare(ctx, "mine", "SELECT 'lease 1'::text")
	require.NoError(t, err)
	_, full, _ := sessionOf(t, pc).counts()
	require.NoError(t, sc.ResetSession(ctx))
	_, full2, _ := sessionOf(t, pc).counts()
	require.Equal(t, full+1, full2, "the full reset ran")

	var s string
	assert.Error(t, pc.QueryRow(ctx, "mine").Scan(&s), "lease 1's statement is gone for pgx too")
	assert.Zero(t, serverStatements(t, ctx, pc))
	_, err = pc.Prepare(ctx, "mine", "SELECT 'lease 2'::text")
	require.NoError(t, err, "the name is free again")
	require.NoError(t, pc.QueryRow(ctx, "mine").Scan(&s))
	assert.Equal(t, "lease 2", s)
}

// TestDeferredResetDropsSQLPrepares: SQL PREPAREs, one of them under the
// name pgx's cache would give another text, are gone after the release, and
// pgx's cache runs its own statement for that text.
func TestDeferredResetDropsSQLPrepares(t *testing.T) {
	sc, pc, _, _ := resetConn(t, "dfrsqlprep")
	ctx := resetCtx(t)
	const q = "SELECT $1::int + 0"
	_, err := pc.Exec(ctx, "PREPARE leak AS SELECT 1")
	require.NoError(t, err)
	_, err = pc.Exec(ctx, "PREPARE stmtcache_"+hexDigest(q)+"(int) AS SELECT $1 + 100")
	require.NoError(t, err)
	require.NoError(t, sc.ResetSession(ctx))
	assert.Zero(t, serverStatements(t, ctx, pc))
	var n int
	require.NoError(t, pc.QueryRow(ctx, q, 1).Scan(&n))
	assert.Equal(t, 1, n, "the forged statement did not run")
}

// TestDeferredResetRefusesAHiddenPrepare: a prepared statement made by
// server-side code, whose text pgx never sent, is not deallocated by the
// deferred reset: the reset fails closed, so the next request fails without
// running (an INSERT behind it inserts nothing) and the connection is
// closed.
func TestDeferredResetRefusesAHiddenPrepare(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(ctx context.Context, pc *pgx.Conn, table string) error
	}{
		{"simple protocol", func(ctx context.Context, pc *pgx.Conn, table string) error {
			// pgx reports "conn closed" on this path: its
			// MultiResultReader drops the read error (pgconn v5.12.0).
			_, err := pc.Exec(ctx, "INSERT INTO "+table+" VALUES (1)")
			return err
		}},
		{"extended protocol", func(ctx context.Context, pc *pgx.Conn, table string) error {
			_, err := pc.Exec(ctx, "INSERT INTO "+table+" VALUES ($1)", 1)
			var re *resetError
			if assert.ErrorAs(t, err, &re) {
				assert.True(t, re.Fatal(), "the server ended the session: the request did not run")
				assert.Contains(t, re.Message, "SQL-level prepared statement")
			}
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, pc, srv, role := resetConn(t, "dfrhidden")
			table := "witness_" + role
			srv.Exec(t, "CREATE TABLE "+table+" (x int)")
			srv.Exec(t, "GRANT INSERT ON "+table+" TO "+role)
			ctx := resetCtx(t)
			_, err := pc.Exec(ctx, `DO $$BEGIN EXECUTE 'PREP' || 'ARE leak AS SELECT 1'; END$$`)
			require.NoError(t, err)
			require.NoError(t, sc.ResetSession(ctx), "deferred: nothing to see yet")
			require.Error(t, tc.run(ctx, pc, table))
			assert.True(t, pc.IsClosed())
			assert.Zero(t, srv.QueryInt(t, "SELECT count(*) FROM "+table), "the request behind the failed reset ran")
		})
	}
}

// TestDeferredResetFailsClosedWhenItsStatementIsGone: a lease that has pgx
// deallocate one of the reset's prepared statements (pgx.Conn.Deallocate
// sends a protocol Close, which the release does not see) makes the next
// reset fail: exit_on_error is already on, so the server ends the session
// and the request behind the reset never runs.
func TestDeferredResetFailsClosedWhenItsStatementIsGone(t *testing.T) {
	var every []string // the statements a reset prepares, and binds by name
	for i := range resetSQL {
		if !parsedEveryTime(i) {
			every = append(every, fmt.Sprintf("%s_%d", resetStatement, i))
		}
	}
	for _, gone := range [][]string{every[:1], every[len(every)-1:], every} {
		name := gone[0]
		if len(gone) > 1 {
			name = "all"
		}
		t.Run(name, func(t *testing.T) {
			sc, pc, srv, role := resetConn(t, "dfrgone")
			table := "witness_" + role
			srv.Exec(t, "CREATE TABLE "+table+" (x int)")
			srv.Exec(t, "GRANT INSERT ON "+table+" TO "+role)
			ctx := resetCtx(t)
			// A first deferred reset prepares the reset's statements.
			EndStrayRead(t, ctx, pc)
			require.NoError(t, sc.ResetSession(ctx))
			_, err := pc.Exec(ctx, "SELECT 1")
			require.NoError(t, err)
			var n int
			require.NoError(t, pc.QueryRow(ctx, "SELECT count(*) FROM pg_prepared_statements WHERE name = $1", every[0]).Scan(&n))
			require.Equal(t, 1, n, "the reset prepared its statements")

			for _, name := range gone {
				require.NoError(t, pc.Deallocate(ctx, name))
			}
			EndStrayRead(t, ctx, pc)
			require.NoError(t, sc.ResetSession(ctx))
			_, err = pc.Exec(ctx, "INSERT INTO "+table+" VALUES ($1)", 1)
			var re *resetError
			require.ErrorAs(t, err, &re)
			assert.True(t, re.Fatal(), "the server ended the session: the request did not run")
			assert.True(t, pc.IsClosed())
			assert.Zero(t, srv.QueryInt(t, "SELECT count(*) FROM "+table), "the request behind the failed reset ran")
		})
	}
}

// TestDeferredResetRestoresParameterStatus: a lease that changed a setting
// the server reports makes the release refresh pgx's copy at once.
func TestDeferredResetRestoresParameterStatus(t *testing.T) {
	sc, pc, _, _ := resetConn(t, "dfrparam")
	ctx := resetCtx(t)
	tz := pc.PgConn().ParameterStatus("TimeZone")
	app := pc.PgConn().ParameterStatus("application_name")
	_, err := pc.Exec(ctx, "SET TimeZone = 'Pacific/Chatham'")
	require.NoError(t, err)
	_, err = pc.Exec(ctx, "SET application_name = 'lease 1'")
	require.NoError(t, err)
	require.Equal(t, "Pacific/Chatham", pc.PgConn().ParameterStatus("TimeZone"))
	require.NoError(t, sc.ResetSession(ctx))
	assert.Equal(t, tz, pc.PgConn().ParameterStatus("TimeZone"))
	assert.Equal(t, app, pc.PgConn().ParameterStatus("application_name"))
	assert.Equal(t, tz, queryString(t, ctx, pc, "SHOW TimeZone"))
}

// TestDeferredResetEndsOldListens: a notification sent to a channel the
// last lease listened on, after its release, never reaches the next lease.
func TestDeferredResetEndsOldListens(t *testing.T) {
	sc, pc, srv, _ := resetConn(t, "dfrlisten")
	ctx := resetCtx(t)
	_, err := pc.Exec(ctx, "LISTEN dfrchan")
	require.NoError(t, err)
	require.NoError(t, sc.ResetSession(ctx))
	srv.Exec(t, "NOTIFY dfrchan, 'secret'")
	assert.Equal(t, "0", queryString(t, ctx, pc, "SELECT count(*)::text FROM pg_listening_channels()"))
	n, _ := pc.WaitForNotification(done)
	assert.Nil(t, n, "a notification for the old LISTEN crossed the reset")
	_, err = pc.Exec(ctx, "SELECT 1")
	require.NoError(t, err)
	n, _ = pc.WaitForNotification(done)
	assert.Nil(t, n)
}

// TestDeferredResetFailsClosedOnATerminatedSession: a session the server
// ended while it sat idle fails the next request (the reset cannot run), and
// the connection is closed.
func TestDeferredResetFailsClosedOnATerminatedSession(t *testing.T) {
	sc, pc, srv, role := resetConn(t, "dfrkill")
	ctx := resetCtx(t)
	require.NoError(t, sc.ResetSession(ctx))
	require.Equal(t, 1, srv.Terminate(t, role))
	_, err := pc.Exec(ctx, "SELECT 1")
	require.Error(t, err)
	assert.True(t, pc.IsClosed())
}

// TestDeferredResetNeverTouchesAFreshConnection: a new connection's first
// request carries no reset.
func TestDeferredResetNeverTouchesAFreshConnection(t *testing.T) {
	_, pc, _, _ := resetConn(t, "dfrfresh")
	ctx := resetCtx(t)
	_, err := pc.Exec(ctx, "SET statement_timeout = '4242s'")
	require.NoError(t, err)
	assert.Equal(t, "4242s", queryString(t, ctx, pc, "SHOW statement_timeout"))
	assert.False(t, sessionOf(t, pc).pending)
}

// TestDeferredResetAfterAFullReset: the full reset's DISCARD ALL deallocates
// the deferred reset's own prepared check too, and the next deferred reset
// prepares it again.
func TestDeferredResetAfterAFullReset(t *testing.T) {
	sc, pc, _, _ := resetConn(t, "dfrmix")
	ctx := resetCtx(t)
	for round := range 3 {
		EndStrayRead(t, ctx, pc)
		require.NoError(t, sc.ResetSession(ctx), "round %d", round) // deferred
		require.Equal(t, "1", queryString(t, ctx, pc, "SELECT '1'"), "round %d", round)
		_, err := pc.Prepare(ctx, "mine", "SELECT 1")
		require.NoError(t, err)
		require.NoError(t, sc.ResetSession(ctx), "round %d", round) // full
		require.Equal(t, "2", queryString(t, ctx, pc, "SELECT '2'"), "round %d", round)
	}
	deferred, full, _ := sessionOf(t, pc).counts()
	assert.Equal(t, [2]int{3, 3}, [2]int{deferred, full})
	assert.False(t, pc.IsClosed())
}

// TestIdleSessionTimeoutIsResetAtRelease: a lease's idle_session_timeout
// would end the session while it sits idle in the pool if the reset waited
// for the next request, and that request would fail. The release resets it
// at once instead (the full reset), so the next lease finds the session
// alive and the setting at the login's value.
func TestIdleSessionTimeoutIsResetAtRelease(t *testing.T) {
	sc, pc, _, _ := resetConn(t, "dfridle")
	ctx := resetCtx(t)
	// Long enough that the session cannot end while the test runs (1ms
	// did, under -race, between the SET and the release): what counts is
	// that the release resets it at once, not the timeout itself.
	_, err := pc.Exec(ctx, "SET idle_session_timeout = '1h'")
	require.NoError(t, err)
	_, full, _ := sessionOf(t, pc).counts()
	require.NoError(t, sc.ResetSession(ctx))
	_, full2, _ := sessionOf(t, pc).counts()
	require.Equal(t, full+1, full2, "the release reset the session at once")
	assert.Equal(t, "0", queryString(t, ctx, pc, "SHOW idle_session_timeout"))
}
