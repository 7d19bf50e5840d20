package postgres_test

import (
	"context"
	"database/sql/driver"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/manager"
)

// sessionState reads back every kind of session state that
// TestWithoutSessionResetKeepsSessionStateForTheSameIdentity sets.
const sessionState = `SELECT concat_ws(',', current_setting('statement_timeout'),
	coalesce(current_setting('idpool.mark', true), ''), current_user,
	(SELECT count(*) FROM pg_tables WHERE tablename = 'kept'),
	(SELECT count(*) FROM pg_prepared_statements WHERE name = 'keptstmt'),
	(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()),
	(SELECT count(*) FROM pg_listening_channels()),
	(SELECT count(*) FROM pg_cursors WHERE name = 'keptcur'),
	currval('keptseq'))`

// TestWithoutSessionResetKeepsSessionStateForTheSameIdentity: with the
// option, what one lease leaves in the session is there for the next lease
// of the same identity, on the same backend: the option does what it says,
// and no reset ran in between (a reset would have undone every part).
func TestWithoutSessionResetKeepsSessionStateForTheSameIdentity(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 1}, postgres.WithoutSessionReset())
	other, _ := e.srv.NewRole(t, "nrother")
	e.srv.Exec(t, "GRANT "+other+" TO "+e.aliceRole)
	ctx := as(t, e.alice)

	l, err := e.pool.Acquire(ctx)
	require.NoError(t, err)
	pid := backendPID(t, ctx, l)
	for _, sql := range []string{
		"SET ROLE " + other, // first, so that the role owns what follows
		"SET statement_timeout = '4242s'",
		"SELECT set_config('idpool.mark', 'from-the-last-lease', false)",
		"CREATE TEMP TABLE kept (x int)",
		"CREATE TEMP SEQUENCE keptseq",
		"SELECT nextval('keptseq')",
		"PREPARE keptstmt AS SELECT 1",
		"SELECT pg_advisory_lock(4243)",
		"LISTEN keptchan",
		"DECLARE keptcur CURSOR WITH HOLD FOR SELECT 1",
	} {
		_, err := l.Exec(ctx, sql)
		require.NoError(t, err, sql)
	}
	l.Release()

	l, err = e.pool.Acquire(ctx)
	require.NoError(t, err)
	defer l.Release()
	assert.Equal(t, pid, backendPID(t, ctx, l), "the same session")
	assert.Equal(t, "4242s,from-the-last-lease,"+other+",1,1,1,1,1,1", scalar[string](t, ctx, l, sessionState))
}

// TestWithoutSessionResetThroughTheFacade: the option reaches OpenDB as an
// OpenOption, and a SET of one call is seen by the next call of the same
// identity, while by default it is not.
func TestWithoutSessionResetThroughTheFacade(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []postgres.OpenOption
		want string
	}{
		{"default resets", nil, ""},
		{"WithoutSessionReset keeps", []postgres.OpenOption{postgres.WithoutSessionReset()}, "kept"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newPgxEnv(t, manager.Config{MaxSize: 1})
			db, err := postgres.OpenDB(e.dsn, manager.Config{MaxSize: 1},
				append([]postgres.OpenOption{postgres.WithUser(roleOf)}, tc.opts...)...)
			require.NoError(t, err)
			defer func() { require.NoError(t, db.Close()) }()
			ctx := as(t, e.alice)

			var pid1, pid2 int32
			require.NoError(t, db.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid1))
			_, err = db.ExecContext(ctx, "SELECT set_config('idpool.mark', 'kept', false)")
			require.NoError(t, err)
			var mark string
			require.NoError(t, db.QueryRowContext(ctx,
				"SELECT coalesce(current_setting('idpool.mark', true), '')").Scan(&mark))
			require.NoError(t, db.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid2))
			assert.Equal(t, pid1, pid2, "one connection throughout (MaxSize 1)")
			assert.Equal(t, tc.want, mark)
		})
	}
}

// TestWithoutSessionResetFacadeHandOverNeverCrossesIdentities: with
// database/sql keeping its one connection and handing it from call to call
// (SetMaxOpenConns(1), SetMaxIdleConns raised), calls alternating between
// alice and bob each run as their own role and never see the other's
// session state: the hand-over rebinds to the caller's own pool.
func TestWithoutSessionResetFacadeHandOverNeverCrossesIdentities(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 1})
	db, err := postgres.OpenDB(e.dsn, manager.Config{MaxSize: 1}, postgres.WithUser(roleOf), postgres.WithoutSessionReset())
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(4)
	const who = "SELECT current_user || ',' || coalesce(current_setting('idpool.mark', true), '')"
	for round := range 3 {
		for _, c := range []struct {
			ctx  context.Context
			role string
		}{{as(t, e.alice), e.aliceRole}, {as(t, e.bob), e.bobRole}} {
			var got string
			require.NoError(t, db.QueryRowContext(c.ctx, who).Scan(&got))
			want := c.role + ","
			if round > 0 {
				want += c.role // its own mark, from its own last lease
			}
			assert.Equal(t, want, got, "round %d", round)
			_, err := db.ExecContext(c.ctx, "SELECT set_config('idpool.mark', current_user, false)")
			require.NoError(t, err)
		}
	}
}

// TestWithoutSessionResetStillEndsAnOpenTransaction: a transaction left open
// at release never reaches the next lease. One begun through the lease's
// database/sql connection is rolled back and the connection kept; a pgx
// transaction, or a BEGIN sent as SQL, leaves the connection in a
// transaction, and it is closed instead. Either way the insert is gone.
func TestWithoutSessionResetStillEndsAnOpenTransaction(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 1}, postgres.WithoutSessionReset())
	e.createItems(t)
	ctx := as(t, e.alice)
	pidNow := func() int32 {
		l, err := e.pool.Acquire(ctx)
		require.NoError(t, err)
		defer l.Release()
		return backendPID(t, ctx, l)
	}

	t.Run("database/sql transaction: rolled back, connection kept", func(t *testing.T) {
		before := pidNow()
		ml, err := e.pool.Manager().Acquire(ctx, e.alice)
		require.NoError(t, err)
		_, err = ml.Conn().BeginTx(ctx, driver.TxOptions{})
		require.NoError(t, err)
		_, err = ml.Conn().ExecContext(ctx, "INSERT INTO items VALUES (1, 'left open')", nil)
		require.NoError(t, err)
		ml.Release(nil)
		assert.Equal(t, int64(0), e.countItems(t), "rolled back")
		assert.Equal(t, before, pidNow(), "the connection was kept")
	})
	t.Run("pgx transaction: connection closed", func(t *testing.T) {
		before := pidNow()
		l, err := e.pool.Acquire(ctx)
		require.NoError(t, err)
		tx, err := l.Begin(ctx)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, "INSERT INTO items VALUES (2, 'left open')")
		require.NoError(t, err)
		l.Release()
		assert.Equal(t, int64(0), e.countItems(t))
		assert.NotEqual(t, before, pidNow(), "the connection was closed, not reused")
	})
	t.Run("BEGIN as SQL: connection closed", func(t *testing.T) {
		before := pidNow()
		l, err := e.pool.Acquire(ctx)
		require.NoError(t, err)
		_, err = l.Exec(ctx, "BEGIN; INSERT INTO items VALUES (3, 'left open')")
		require.NoError(t, err)
		l.Release()
		assert.Equal(t, int64(0), e.countItems(t))
		assert.NotEqual(t, before, pidNow(), "the connection was closed, not reused")
	})
}

// TestWithoutSessionResetClosesAConnectionWithAResultStillOpen: a release
// while rows are still being read closes the connection: the rest of the
// result would otherwise reach the next lease.
func TestWithoutSessionResetClosesAConnectionWithAResultStillOpen(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 1}, postgres.WithoutSessionReset())
	ctx := as(t, e.alice)
	l, err := e.pool.Acquire(ctx)
	require.NoError(t, err)
	pid := backendPID(t, ctx, l)
	rows, err := l.Query(ctx, "SELECT generate_series(1, 100000)")
	require.NoError(t, err)
	require.True(t, rows.Next())
	l.Release()

	l, err = e.pool.Acquire(ctx)
	require.NoError(t, err)
	defer l.Release()
	assert.NotEqual(t, pid, backendPID(t, ctx, l))
	assert.Equal(t, int32(7), scalar[int32](t, ctx, l, "SELECT $1::int", 7), "the new connection works")
}

// TestWithoutSessionResetNeverHandsAConnectionToAnotherIdentity: with the
// reset off and room for one connection per identity, alice's session
// state, and her backend, never reach bob. The server says so: bob's
// backend is another process, logged in as bob, and alice's is still hers.
func TestWithoutSessionResetNeverHandsAConnectionToAnotherIdentity(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 1, MaxTotal: 1}, postgres.WithoutSessionReset())
	actx, bctx := as(t, e.alice), as(t, e.bob)
	for round := range 3 {
		var apid int32
		require.NoError(t, e.pool.AcquireFunc(actx, func(l *postgres.Lease) error {
			apid = backendPID(t, actx, l)
			_, err := l.Exec(actx, "SELECT set_config('idpool.mark', 'alice', false)")
			return err
		}))
		require.NoError(t, e.pool.AcquireFunc(bctx, func(l *postgres.Lease) error {
			assert.NotEqual(t, apid, backendPID(t, bctx, l), "round %d", round)
			assert.Equal(t, e.bobRole+",", scalar[string](t, bctx, l,
				"SELECT current_user || ',' || coalesce(current_setting('idpool.mark', true), '')"), "round %d", round)
			return nil
		}))
		assert.Zero(t, e.srv.QueryInt(t, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND usename <> $2",
			apid, e.aliceRole), "alice's backend never logged in as anyone else")
	}
}

// TestWithoutSessionResetIgnoresTheCallersResetFunction: a caller's
// stdlib.OptionResetSession, given before or after WithoutSessionReset,
// never runs: it can neither turn a reset back on (here it would run
// DISCARD ALL) nor fail releases. Without WithoutSessionReset the full reset
// still runs and the caller's function is not called either.
func TestWithoutSessionResetIgnoresTheCallersResetFunction(t *testing.T) {
	var calls atomic.Int32
	theirs := postgres.WithConnectorOptions(stdlib.OptionResetSession(func(ctx context.Context, c *pgx.Conn) error {
		calls.Add(1)
		_, err := c.Exec(ctx, "DISCARD ALL")
		return err
	}))
	for _, tc := range []struct {
		name string
		opts []postgres.Option
		want string
	}{
		{"theirs first", []postgres.Option{theirs, postgres.WithoutSessionReset()}, "kept"},
		{"theirs last", []postgres.Option{postgres.WithoutSessionReset(), theirs}, "kept"},
		{"reset on", []postgres.Option{theirs}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newPgxEnv(t, manager.Config{MaxSize: 1}, tc.opts...)
			ctx := as(t, e.alice)
			_, err := e.pool.Exec(ctx, "SELECT set_config('idpool.mark', 'kept', false)")
			require.NoError(t, err)
			var mark string
			require.NoError(t, e.pool.QueryRow(ctx, "SELECT coalesce(current_setting('idpool.mark', true), '')").Scan(&mark))
			assert.Equal(t, tc.want, mark)
			assert.Zero(t, calls.Load())
		})
	}
}

// TestWithoutSessionResetKeepsNamedStatementsUsable: with no reset nothing
// is discarded, so pgx and the server still agree on statements across
// leases: one prepared by name, one by SQL PREPARE, and pgx's cached ones
// (which by default would send the release down the DISCARD ALL path).
func TestWithoutSessionResetKeepsNamedStatementsUsable(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 1}, postgres.WithoutSessionReset())
	ctx := as(t, e.alice)
	require.NoError(t, e.pool.AcquireFunc(ctx, func(l *postgres.Lease) error {
		if _, err := l.Conn().Prepare(ctx, "named", "SELECT $1::int * 2"); err != nil {
			return err
		}
		_, err := l.Exec(ctx, "PREPARE bysql(int) AS SELECT $1 * 3")
		return err
	}))
	for range 3 {
		require.NoError(t, e.pool.AcquireFunc(ctx, func(l *postgres.Lease) error {
			assert.Equal(t, int32(42), scalar[int32](t, ctx, l, "named", 21))
			assert.Equal(t, int32(63), scalar[int32](t, ctx, l, "EXECUTE bysql(21)"))
			assert.Equal(t, int32(5), scalar[int32](t, ctx, l, "SELECT $1::int + 1", 4))
			assert.Equal(t, "UTC", scalar[string](t, ctx, l, "SELECT set_config('TimeZone', 'UTC', false)"))
			return nil
		}))
	}
}

// TestNilOptionsAreIgnored: a nil Option (a zero value, say from a helper
// that returns none) is skipped by NewDialer, OpenPool and OpenDB rather
// than panicking.
func TestNilOptionsAreIgnored(t *testing.T) {
	var none postgres.Option
	const dsn = "postgres://app@db.example.com/app"
	_, err := postgres.NewDialer(dsn, none, postgres.WithoutSessionReset(), nil)
	require.NoError(t, err)
	db, err := postgres.OpenDB(dsn, manager.Config{}, none, nil)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	p, err := postgres.OpenPool(dsn, manager.Config{}, none)
	require.NoError(t, err)
	require.NoError(t, p.Close())
}
