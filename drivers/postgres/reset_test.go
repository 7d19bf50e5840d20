package postgres

import (
	"context"
	"database/sql/driver"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/internal/pgtest"
)

// resetConn dials a SQL login of a new role and returns the driver conn with
// its pgx conn.
func resetConn(t *testing.T, prefix string, setup ...string) (*stdlib.Conn, *pgx.Conn, *pgtest.Server, string) {
	t.Helper()
	srv := pgtest.Shared(t)
	role, pwd := srv.NewRole(t, prefix)
	for _, sql := range setup {
		srv.Exec(t, fmt.Sprintf(sql, role))
	}
	d, err := NewDialer(srv.DSN(role, pwd, "postgres"))
	require.NoError(t, err)
	c, err := dial(t, d, sqlLoginRequest(d.ServerKey()))
	require.NoError(t, err)
	sc := c.(*stdlib.Conn)
	return sc, sc.Conn(), srv, role
}

func queryString(t *testing.T, ctx context.Context, c *pgx.Conn, sql string) string {
	t.Helper()
	var s string
	require.NoError(t, c.QueryRow(ctx, sql).Scan(&s), sql)
	return s
}

func resetCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestResetSessionDiscardsEverySessionState sets each kind of session state
// on one connection, resets it once, and finds none left: the reset is the
// driver's, so this holds for every path that calls ResetSession.
func TestResetSessionDiscardsEverySessionState(t *testing.T) {
	sc, pc, srv, role := resetConn(t, "rstall")
	other, _ := srv.NewRole(t, "rstother")
	srv.Exec(t, "GRANT "+other+" TO "+role)
	ctx := resetCtx(t)

	pid := queryString(t, ctx, pc, "SELECT pg_backend_pid()::text")
	for _, sql := range []string{
		"SET statement_timeout = '4242s'",
		"SELECT set_config('idpool.secret', 'leaked', false)",
		"SET ROLE " + other,
		"CREATE TEMP TABLE leak (x int)",
		"CREATE TEMP SEQUENCE leakseq",
		"SELECT nextval('leakseq')",
		"PREPARE leakstmt AS SELECT 1",
		"SELECT pg_advisory_lock(4242)",
		"LISTEN leakchan",
		"DECLARE leakcur CURSOR WITH HOLD FOR SELECT 1",
	} {
		_, err := pc.Exec(ctx, sql)
		require.NoError(t, err, sql)
	}
	state := `SELECT concat_ws(',', current_setting('statement_timeout'),
		coalesce(current_setting('idpool.secret', true), ''), current_user,
		(SELECT count(*) FROM pg_class WHERE relname = 'leak' AND relnamespace = pg_my_temp_schema()),
		(SELECT count(*) FROM pg_prepared_statements WHERE name = 'leakstmt'),
		(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()),
		(SELECT count(*) FROM pg_listening_channels()),
		(SELECT count(*) FROM pg_cursors WHERE name = 'leakcur'))`
	require.Equal(t, "4242s,leaked,"+other+",1,1,1,1,1", queryString(t, ctx, pc, state), "the state was set")

	require.NoError(t, sc.ResetSession(ctx))
	assert.Equal(t, "0,,"+role+",0,0,0,0,0", queryString(t, ctx, pc, state))
	var n int64
	err := pc.QueryRow(ctx, "SELECT lastval()").Scan(&n)
	assert.ErrorContains(t, err, "not yet defined", "sequences' currval is forgotten")
	assert.Equal(t, pid, queryString(t, ctx, pc, "SELECT pg_backend_pid()::text"), "the same session")
}

// TestResetSessionAsSuperuserEndsSessionAuthorization: a superuser's SET
// SESSION AUTHORIZATION changes session_user; the reset restores the login.
func TestResetSessionAsSuperuserEndsSessionAuthorization(t *testing.T) {
	// Superuser must be granted before the login: the server reads it then.
	sc, pc, srv, role := resetConn(t, "rstsu", "ALTER ROLE %s SUPERUSER")
	other, _ := srv.NewRole(t, "rstsuother")
	ctx := resetCtx(t)

	_, err := pc.Exec(ctx, "SET SESSION AUTHORIZATION "+other)
	require.NoError(t, err)
	require.Equal(t, other+","+other, queryString(t, ctx, pc, "SELECT session_user || ',' || current_user"))
	require.NoError(t, sc.ResetSession(ctx))
	assert.Equal(t, role+","+role, queryString(t, ctx, pc, "SELECT session_user || ',' || current_user"))
}

// TestResetKeepsPgxStatementCachesConsistent: DISCARD ALL drops the server's
// prepared statements, so pgx must forget its own (the statement cache behind
// every parameterised query, and named statements), or the next query would
// run a statement the server no longer has. This also pins the pgx behaviour
// forgetClientState relies on: DeallocateAll under an ended ctx clears the
// caches without I/O and leaves the connection usable.
func TestResetKeepsPgxStatementCachesConsistent(t *testing.T) {
	sc, pc, _, _ := resetConn(t, "rstcache")
	ctx := resetCtx(t)
	const q = "SELECT ($1::int + 1)::text"

	for round := range 3 {
		var s string
		require.NoError(t, pc.QueryRow(ctx, q, 41).Scan(&s), "cached statement, round %d", round)
		assert.Equal(t, "42", s)
		_, err := pc.Prepare(ctx, "named", "SELECT 'named'::text")
		require.NoError(t, err, "round %d", round)
		require.NoError(t, pc.QueryRow(ctx, "named").Scan(&s), "round %d", round)
		assert.Equal(t, "named", s)

		// database/sql's own prepared statements, through the driver.
		st, err := sc.PrepareContext(ctx, "SELECT 7")
		require.NoError(t, err)
		rows, err := st.(driver.StmtQueryContext).QueryContext(ctx, nil)
		require.NoError(t, err)
		require.NoError(t, rows.Close())
		require.NoError(t, st.Close())

		require.EqualValues(t, 2, serverStatements(t, ctx, pc), "the cached and the named statement")
		require.NoError(t, sc.ResetSession(ctx), "round %d", round)
		assert.False(t, pc.IsClosed())
		assert.Zero(t, serverStatements(t, ctx, pc))
	}
}

// serverStatements counts the session's prepared statements on the server,
// less the deferred reset's own, asking in the simple protocol so that the
// question prepares none itself.
func serverStatements(t *testing.T, ctx context.Context, c *pgx.Conn) int64 {
	t.Helper()
	var n int64
	require.NoError(t, c.QueryRow(ctx, "SELECT count(*) FROM pg_prepared_statements WHERE name NOT LIKE '"+resetStatement+"\\_%'",
		pgx.QueryExecModeSimpleProtocol).Scan(&n))
	return n
}

// TestResetDropsBufferedNotifications: a notification pgx read for the old
// session's LISTEN and buffered must not reach the next lease.
func TestResetDropsBufferedNotifications(t *testing.T) {
	sc, pc, _, _ := resetConn(t, "rstnotify")
	ctx := resetCtx(t)

	// A session's own NOTIFY on a channel it listens to reaches it before
	// the command completes, so pgx has buffered it when Exec returns.
	_, err := pc.Exec(ctx, "LISTEN leakchan")
	require.NoError(t, err)
	_, err = pc.Exec(ctx, "NOTIFY leakchan, 'first'")
	require.NoError(t, err)
	n, err := pc.WaitForNotification(done)
	require.NoError(t, err)
	require.Equal(t, "first", n.Payload, "the notification is buffered")

	_, err = pc.Exec(ctx, "NOTIFY leakchan, 'secret'")
	require.NoError(t, err)
	require.NoError(t, sc.ResetSession(ctx))
	n, _ = pc.WaitForNotification(done)
	assert.Nil(t, n, "a buffered notification crossed the reset")
	assert.False(t, pc.IsClosed())
}

// TestResetSessionFailsClosed: a reset that cannot run says ErrBadConn, so
// the pool closes the connection instead of reusing it.
func TestResetSessionFailsClosed(t *testing.T) {
	ctx := resetCtx(t)
	t.Run("rows still open", func(t *testing.T) {
		sc, pc, _, _ := resetConn(t, "rstbusy")
		rows, err := pc.Query(ctx, "SELECT generate_series(1, 10)")
		require.NoError(t, err)
		defer rows.Close()
		require.True(t, rows.Next())
		assert.ErrorIs(t, sc.ResetSession(ctx), driver.ErrBadConn)
	})
	t.Run("session killed", func(t *testing.T) {
		// The full reset's round trip finds the session gone. (A deferred
		// reset fails the next request instead: see
		// TestDeferredResetFailsClosedOnATerminatedSession.)
		sc, pc, srv, role := resetConn(t, "rstkill")
		_, err := pc.Exec(ctx, "PREPARE p AS SELECT 1") // needs the full reset
		require.NoError(t, err)
		require.Equal(t, 1, srv.Terminate(t, role))
		assert.ErrorIs(t, sc.ResetSession(ctx), driver.ErrBadConn)
	})
	t.Run("ctx ended", func(t *testing.T) {
		sc, _, _, _ := resetConn(t, "rstctx")
		assert.ErrorIs(t, sc.ResetSession(done), driver.ErrBadConn)
	})
}

// TestConnectorOptionsCannotTurnTheResetOff: a caller's OptionResetSession
// is overridden by the dialer's.
func TestConnectorOptionsCannotTurnTheResetOff(t *testing.T) {
	srv := pgtest.Shared(t)
	role, pwd := srv.NewRole(t, "rstopt")
	d, err := NewDialer(srv.DSN(role, pwd, "postgres"), WithConnectorOptions(
		stdlib.OptionResetSession(func(context.Context, *pgx.Conn) error { return nil })))
	require.NoError(t, err)
	c, err := dial(t, d, sqlLoginRequest(d.ServerKey()))
	require.NoError(t, err)
	ctx := resetCtx(t)
	pc := c.(*stdlib.Conn).Conn()
	_, err = pc.Exec(ctx, "SET statement_timeout = '4242s'")
	require.NoError(t, err)
	require.NoError(t, c.(driver.SessionResetter).ResetSession(ctx))
	assert.Equal(t, "0", queryString(t, ctx, pc, "SHOW statement_timeout"))
}

// BenchmarkResetSession measures one release's reset (the DISCARD ALL round
// trip) on a local server, next to a bare round trip (Ping) for scale.
func BenchmarkResetSession(b *testing.B) {
	srv := pgtest.Shared(b)
	role, pwd := srv.NewRole(b, "rstbench")
	d, err := NewDialer(srv.DSN(role, pwd, "postgres"))
	require.NoError(b, err)
	ctx := context.Background()
	c, err := d.Dial(ctx, sqlLoginRequest(d.ServerKey()))
	require.NoError(b, err)
	b.Cleanup(func() { _ = c.Close() })
	b.Run("reset", func(b *testing.B) {
		r := c.(driver.SessionResetter)
		for b.Loop() {
			if err := r.ResetSession(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ping", func(b *testing.B) {
		p := c.(driver.Pinger)
		for b.Loop() {
			if err := p.Ping(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
