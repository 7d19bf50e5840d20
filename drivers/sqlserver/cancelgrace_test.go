package sqlserver_test

import (
	"context"
	"database/sql/driver"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/internal/netfault"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/sim/tds"
	"github.com/idpool/idpool/tokens"
)

// go-mssqldb, once a call's ctx ends, sends an attention and waits up to
// 5 s, twice, for the server to confirm it. Against a server that stopped
// answering (here a proxy gone silent: the connection stays open, nothing
// arrives) a call with a 100 ms deadline returned after 5-10 s. With
// CancelGrace the pool cuts the connection's transport under the call once
// the grace has passed since its ctx ended.

// cancelGrace is short so that the bound is far below go-mssqldb's 5 s.
const cancelGrace = 150 * time.Millisecond

// cancelMargin is what the tests allow past ctx + CancelGrace: scheduling
// on a loaded 2-core machine. Without the cut, the calls take at least 5 s.
const cancelMargin = 2 * time.Second

// silentRig is a server behind a proxy that the test can silence.
type silentRig struct {
	srv   *tds.Server
	proxy *netfault.Proxy
	dsn   string
}

func startSilentRig(t *testing.T) *silentRig {
	t.Helper()
	srv := startServer(t)
	proxy, err := netfault.Listen(srv.Addr())
	require.NoError(t, err)
	t.Cleanup(func() { _ = proxy.Close() })
	u := url.URL{Scheme: "sqlserver", User: url.UserPassword("app", sentinelPassword), Host: proxy.Addr(),
		RawQuery: "database=appdb&dial+timeout=5&encrypt=disable"}
	return &silentRig{srv: srv, proxy: proxy, dsn: u.String()}
}

func newCancelManager(t *testing.T, dsn string, grace time.Duration) *manager.Manager {
	t.Helper()
	d, err := sqlserver.NewDialer(dsn)
	require.NoError(t, err)
	m, err := manager.New(manager.Config{Server: d.ServerKey(), Dialer: d, MaxSize: 2, CancelGrace: grace,
		HealthCheckAfter: -1})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = m.Close(ctx)
	})
	return m
}

// timed runs call under a ctx that ends after d and returns how long after
// the ctx's end it returned, and its error.
func timed(d time.Duration, call func(ctx context.Context) error) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	err := call(ctx)
	end, _ := ctx.Deadline()
	return time.Since(end), err
}

func TestACallOnASilentServerReturnsWithinCancelGraceOfItsCtx(t *testing.T) {
	rig := startSilentRig(t)
	m := newCancelManager(t, rig.dsn, cancelGrace)
	ctx := ctxT(t)
	l, err := m.Acquire(ctx, tokens.SQLLogin())
	require.NoError(t, err)
	require.NoError(t, execOn(ctx, l.Conn(), "SELECT 1"), "the connection works before the server goes silent")

	rig.proxy.Silence()
	late, err := timed(100*time.Millisecond, func(ctx context.Context) error { return execOn(ctx, l.Conn(), "SELECT 1") })
	require.Error(t, err, "a call to a silent server cannot succeed")
	assert.Less(t, late, cancelGrace+cancelMargin, "the call returned %s after its ctx ended; CancelGrace is %s", late, cancelGrace)

	// The cut connection serves nothing more, and goes when released.
	_, err = timed(5*time.Second, func(ctx context.Context) error { return execOn(ctx, l.Conn(), "SELECT 1") })
	require.Error(t, err, "a call on a cut connection fails")
	l.Release(err)
	eventually(t, func() bool { return m.Stats().Total.Open == 0 }, "the cut connection is closed")
}

func TestAFacadeCallOnASilentServerReturnsWithinCancelGraceOfItsCtx(t *testing.T) {
	rig := startSilentRig(t)
	db, err := sqlserver.OpenDB(rig.dsn, manager.Config{MaxSize: 2, CancelGrace: cancelGrace},
		manager.WithDefaultIdentity(tokens.SQLLogin()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	ctx := ctxT(t)
	var one int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT 1").Scan(&one))

	rig.proxy.Silence()
	late, err := timed(100*time.Millisecond, func(ctx context.Context) error {
		return db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
	})
	require.Error(t, err)
	assert.Less(t, late, cancelGrace+cancelMargin, "the call returned %s after its ctx ended; CancelGrace is %s", late, cancelGrace)
}

// The pool's health check of an idle connection pings it under
// ValidateTimeout; on a silent server go-mssqldb's ping then waits for the
// cancel's confirmation as a query does, holding the connection's slot in
// "checking". With CancelGrace the check ends by ValidateTimeout +
// CancelGrace: here well before the acquire that waits for it gives up.
func TestAHealthCheckOnASilentServerEndsWithinCancelGraceOfItsTimeout(t *testing.T) {
	rig := startSilentRig(t)
	d, err := sqlserver.NewDialer(rig.dsn)
	require.NoError(t, err)
	m, err := manager.New(manager.Config{Server: d.ServerKey(), Dialer: d, MaxSize: 1, CancelGrace: cancelGrace,
		HealthCheckAfter: time.Nanosecond, ValidateTimeout: 100 * time.Millisecond, DialTimeout: 300 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = m.Close(ctx)
	})
	l, err := m.Acquire(ctxT(t), tokens.SQLLogin())
	require.NoError(t, err)
	l.Release(nil)

	rig.proxy.Silence()
	ctx, cancel := context.WithTimeout(context.Background(), cancelMargin+time.Second)
	defer cancel()
	_, err = m.Acquire(ctx, tokens.SQLLogin()) // checks the idle connection first
	require.Error(t, err, "nothing can be served by a silent server")
	assert.Zero(t, m.Stats().Total.Checking,
		"the health check still ran when the acquire gave up; ValidateTimeout + CancelGrace is %s", 100*time.Millisecond+cancelGrace)
}

// execOn runs q on c with ctx, as database/sql does for go-mssqldb (whose
// ExecContext asks for a statement).
func execOn(ctx context.Context, c driver.Conn, q string) error {
	s, err := c.(driver.ConnPrepareContext).PrepareContext(ctx, q)
	if err != nil {
		return err
	}
	defer s.Close()
	_, err = s.(driver.StmtExecContext).ExecContext(ctx, nil)
	return err
}

func eventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, time.Millisecond, msg)
}
