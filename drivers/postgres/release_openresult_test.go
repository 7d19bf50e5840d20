package postgres_test

import (
	"context"
	"database/sql/driver"
	"net"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/internal/netfault"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// Release of a lease with a result still being read, against a server that
// stopped answering mid-reply (a proxy gone silent on the connections open
// then; new ones still reach the server). pgx's Close of a result set reads
// the rest of the reply under the query's ctx, which here never ends
// (context.Background(), as many callers pass): without a bound, Release
// blocked for good in that Close, and the lease's slot never came back. The
// bound is CancelGrace, counted from Release (docs/OPERATIONS.md); the
// margin on it covers scheduling on a loaded machine.
const (
	leftOpenGrace  = time.Second
	leftOpenMargin = 5 * time.Second
	// longReply is far more than the socket buffers hold: the server is
	// still sending when the proxy goes silent.
	longReply = "SELECT generate_series(1, 10000000)"
)

// silentEnv is a pgxEnv whose connections go through a proxy the test can
// silence, with the proxy's DSN.
type silentEnv struct {
	*pgxEnv
	proxy *netfault.Proxy
}

// newSilentEnv opens a Pool over a proxy to the shared server; CancelGrace
// is leftOpenGrace unless cfg sets it.
func newSilentEnv(t *testing.T, cfg manager.Config) *silentEnv {
	t.Helper()
	e := newPgxEnvNoPool(t)
	proxy, err := netfault.Listen(net.JoinHostPort("127.0.0.1", strconv.Itoa(e.srv.Port())))
	require.NoError(t, err)
	t.Cleanup(func() { _ = proxy.Close() }) // after the pool's Close (cleanups run last first)
	u, err := url.Parse(e.dsn)
	require.NoError(t, err)
	u.Host = proxy.Addr()
	e.dsn = u.String()
	if cfg.CancelGrace == 0 {
		cfg.CancelGrace = leftOpenGrace
	}
	pool, err := postgres.OpenPool(e.dsn, cfg, postgres.WithUser(roleOf))
	require.NoError(t, err)
	e.pool = pool
	t.Cleanup(func() { require.NoError(t, pool.Close()) })
	return &silentEnv{pgxEnv: e, proxy: proxy}
}

// returnsWithin runs f on a goroutine of its own and fails the test unless
// f returns within d. A real clock only as an upper bound: f's return is
// what the test waits for.
func returnsWithin(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
		t.Logf("%s returned after %s", what, time.Since(start).Round(time.Millisecond))
	case <-time.After(d):
		t.Fatalf("%s still blocked %s after it began: a result set or transaction left open on a silent server holds it", what, d)
	}
}

// servesAFreshConnection checks that the identity's one slot is back and
// serves a new, working connection: one more login at the server, another
// backend than the silenced one.
func (e *silentEnv) servesAFreshConnection(t *testing.T, silencedPID int32, loginsBefore int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tokens.WithIdentity(context.Background(), e.alice), leftOpenMargin)
	defer cancel()
	l, err := e.pool.Acquire(ctx)
	require.NoError(t, err, "the lease's slot came back")
	defer l.Release()
	assert.NotEqual(t, silencedPID, backendPID(t, ctx, l), "the connection released mid-result was closed, not reused")
	assert.Equal(t, loginsBefore+1, e.srv.Logins(t, e.aliceRole), "one new connection, counted at the server")
	assert.Equal(t, 1, e.busy())
}

// managerLease acquires a Manager lease for alice, as a caller of
// Pool.Manager or of a facade's db.Manager holds one, and returns it with
// its session's backend.
func (e *silentEnv) managerLease(t *testing.T, ctx context.Context) (*manager.Lease, int32) {
	t.Helper()
	ml, err := e.pool.Manager().Acquire(ctx, e.alice)
	require.NoError(t, err)
	rows, err := ml.Conn().QueryContext(ctx, "SELECT pg_backend_pid()", nil)
	require.NoError(t, err)
	v := make([]driver.Value, 1)
	require.NoError(t, rows.Next(v))
	require.NoError(t, rows.Close())
	return ml, int32(v[0].(int64))
}

// silenceThenRelease silences the connections open now, runs release,
// which must return within CancelGrace (plus the margin), and checks that
// the lease's slot then serves a fresh connection (see
// servesAFreshConnection). pid is the released session's backend.
func (e *silentEnv) silenceThenRelease(t *testing.T, pid int32, release func()) {
	t.Helper()
	logins := e.srv.Logins(t, e.aliceRole)
	e.proxy.SilenceOpen()
	returnsWithin(t, leftOpenGrace+leftOpenMargin, "Release", release)
	assert.Zero(t, e.busy(), "the lease is back")
	e.servesAFreshConnection(t, pid, logins)
}

// TestReleaseWithAResultLeftOpenOnASilentServerIsBounded: a lease, a
// query under context.Background() of a long reply, one row read, the
// server silent, Release. Release must return within CancelGrace (plus a
// margin), and the identity's only slot must serve the next acquire with a
// fresh, working connection. Through the pgx-native Lease (whose Release
// closes a busy connection without reading, as pgxpool does) and through the
// Manager's own Lease, as a caller of Pool.Manager or of a facade's
// db.Manager reaches it (whose Release closes the result set first: that
// Close is what blocked).
func TestReleaseWithAResultLeftOpenOnASilentServerIsBounded(t *testing.T) {
	for _, c := range []struct {
		name string
		// leave acquires, queries, reads one row and returns the
		// session's backend and the Release.
		leave func(t *testing.T, ctx context.Context, e *silentEnv) (int32, func())
	}{
		{"postgres.Lease", func(t *testing.T, ctx context.Context, e *silentEnv) (int32, func()) {
			l, err := e.pool.Acquire(ctx)
			require.NoError(t, err)
			pid := backendPID(t, ctx, l)
			rows, err := l.Query(context.WithoutCancel(ctx), longReply)
			require.NoError(t, err)
			require.True(t, rows.Next())
			return pid, l.Release
		}},
		{"manager.Lease", func(t *testing.T, ctx context.Context, e *silentEnv) (int32, func()) {
			ml, pid := e.managerLease(t, ctx)
			rows, err := ml.Conn().QueryContext(context.WithoutCancel(ctx), longReply, nil)
			require.NoError(t, err)
			require.NoError(t, rows.Next(make([]driver.Value, 1)))
			return pid, func() { ml.Release(nil) }
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newSilentEnv(t, manager.Config{MaxSize: 1})
			ctx := as(t, e.alice)
			pid, release := c.leave(t, ctx, e)
			e.silenceThenRelease(t, pid, release)
		})
	}
}

// TestFacadeConnClosedWithADriverResultLeftOpenOnASilentServerIsBounded:
// the same through the *sql.DB of OpenDB. database/sql never closes a
// connection under its own open *sql.Rows, but a caller who queries the
// driver connection through sql.Conn.Raw and leaves that result set open
// has it closed by the lease's Release when sql.Conn.Close hands the
// connection back (the facade keeps nothing idle). That Close blocked for
// good on a silent server (the query's ctx, context.WithoutCancel of the
// caller's, never ends), holding the caller in sql.Conn.Close and the
// identity's slot.
func TestFacadeConnClosedWithADriverResultLeftOpenOnASilentServerIsBounded(t *testing.T) {
	facadeConnClosedOnASilentServer(t, func(ctx context.Context, dc any) error {
		rows, err := dc.(driver.QueryerContext).QueryContext(ctx, longReply, nil)
		if err != nil {
			return err
		}
		return rows.Next(make([]driver.Value, 1)) // and left open
	})
}

// facadeConnClosedOnASilentServer opens a *sql.DB with OpenDB over a proxy
// to the shared server (MaxSize 1), runs leave on the driver connection of
// a sql.Conn (through Raw) with a ctx that never ends, silences the
// connections open now and closes the sql.Conn, which hands the lease back:
// sql.Conn.Close must return within CancelGrace (plus the margin), and the
// identity's one slot must then serve the next call at once, on a new
// connection, counted at the server.
func facadeConnClosedOnASilentServer(t *testing.T, leave func(ctx context.Context, dc any) error) {
	t.Helper()
	base := newPgxEnvNoPool(t)
	proxy, err := netfault.Listen(net.JoinHostPort("127.0.0.1", strconv.Itoa(base.srv.Port())))
	require.NoError(t, err)
	t.Cleanup(func() { _ = proxy.Close() })
	u, err := url.Parse(base.dsn)
	require.NoError(t, err)
	u.Host = proxy.Addr()
	db, err := postgres.OpenDB(u.String(), manager.Config{MaxSize: 1, CancelGrace: leftOpenGrace}, postgres.WithUser(roleOf))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	ctx := as(t, base.alice)
	busy := func() int { return db.Manager.Stats().Total.Busy }

	var pid int32
	require.NoError(t, db.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid))
	logins := base.srv.Logins(t, base.aliceRole)

	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	require.NoError(t, conn.Raw(func(dc any) error { return leave(context.WithoutCancel(ctx), dc) }))
	proxy.SilenceOpen()
	returnsWithin(t, leftOpenGrace+leftOpenMargin, "sql.Conn.Close", func() { assert.NoError(t, conn.Close()) })
	assert.Zero(t, busy(), "the lease is back")

	// The slot serves the next call at once, on a new connection.
	short, cancel := context.WithTimeout(ctx, leftOpenMargin)
	defer cancel()
	var again int32
	require.NoError(t, db.QueryRowContext(short, "SELECT pg_backend_pid()").Scan(&again), "the identity's one slot came back")
	assert.NotEqual(t, pid, again, "the connection released with work left open was closed, not reused")
	assert.Equal(t, logins+1, base.srv.Logins(t, base.aliceRole), "one new connection, counted at the server")
	assert.Zero(t, busy())
}

// AbortTransport knows pgx's connections only, and cutting one leaves it
// failing at once rather than blocking.
func TestAbortTransportCutsPgxConnectionsOnly(t *testing.T) {
	d, err := postgres.NewDialer("postgres://u@127.0.0.1:5432/db")
	require.NoError(t, err)
	assert.False(t, d.AbortTransport(nil), "not a pgx connection")
	assert.True(t, d.EndsCallsAtCtx(), "pgx ends its calls at their ctx: none is watched")

	e := newPgxEnv(t, manager.Config{MaxSize: 1})
	ctx := as(t, e.alice)
	l, err := e.pool.Manager().Acquire(ctx, e.alice)
	require.NoError(t, err)
	defer l.Release(driver.ErrBadConn)
	require.True(t, d.AbortTransport(l.Raw()), "any pgx stdlib connection")
	_, err = l.Conn().ExecContext(context.Background(), "SELECT 1", nil) // no ctx to end it: only the cut does
	require.Error(t, err, "the transport is cut")
}
