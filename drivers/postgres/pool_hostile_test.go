package postgres_test

import (
	"context"
	"database/sql/driver"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/manager"
)

// panicValuer is an argument whose encoding panics, as a careless
// driver.Valuer (or a nil pointer behind one) does. pgx calls it while it
// builds the request, inside the Pool's call.
type panicValuer struct{}

func (panicValuer) Value() (driver.Value, error) { panic("panicValuer") }

// TestPoolCallsThatPanicHandTheirLeaseBack: a Pool call that panics while
// pgx encodes its arguments returns no result the caller could close, so the
// call itself must hand its lease back; otherwise the identity's slot is
// gone for good (here its only one, so every later call waits for its ctx).
func TestPoolCallsThatPanicHandTheirLeaseBack(t *testing.T) {
	for _, c := range []struct {
		name string
		call func(context.Context, *postgres.Pool)
	}{
		{"Query", func(ctx context.Context, p *postgres.Pool) { _, _ = p.Query(ctx, "SELECT $1::text", panicValuer{}) }},
		{"QueryRow", func(ctx context.Context, p *postgres.Pool) {
			_ = p.QueryRow(ctx, "SELECT $1::text", panicValuer{}).Scan(new(string))
		}},
		{"SendBatch", func(ctx context.Context, p *postgres.Pool) {
			b := &pgx.Batch{}
			b.Queue("SELECT $1::text", panicValuer{})
			_ = p.SendBatch(ctx, b).Close()
		}},
		{"Exec", func(ctx context.Context, p *postgres.Pool) { _, _ = p.Exec(ctx, "SELECT $1::text", panicValuer{}) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newPgxEnv(t, manager.Config{MaxSize: 1})
			ctx := as(t, e.alice)
			var before, after int32
			require.NoError(t, e.pool.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&before))
			func() {
				defer func() { assert.Equal(t, "panicValuer", recover()) }()
				c.call(ctx, e.pool)
			}()
			assert.Zero(t, e.busy(), "the lease came back")
			// The identity's one slot is free: a call gets it well within
			// its deadline rather than waiting it out, on a new connection
			// (the Pool's doc: a call that panics closes its connection).
			short, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			require.NoError(t, e.pool.QueryRow(short, "SELECT pg_backend_pid()").Scan(&after))
			assert.NotEqual(t, before, after, "the connection of a call that panicked was kept")
		})
	}
}

// TestPoolBatchWhoseTransactionNeverBeganReleasesAtClose: a Pool batch that
// begins a transaction holds its lease until that transaction ends. When
// the batch fails before its BEGIN runs (here a statement of it fails to
// prepare, so nothing is sent), pgx closes the transaction at Close and says
// so (pgx.BatchResults.Tx): a caller who then returns Close's error without
// a Rollback must not leave the identity's slot taken.
func TestPoolBatchWhoseTransactionNeverBeganReleasesAtClose(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 1})
	ctx := as(t, e.alice)
	e.createItems(t)

	b := &pgx.Batch{}
	b.BeginTx(pgx.TxOptions{})
	b.Queue("INSERT INTO items VALUES ($1, 'x')", 1)
	b.Queue("SELECT * FROM no_such_table WHERE id = $1", 1)
	br := e.pool.SendBatch(ctx, b)
	require.NotNil(t, br.Tx())
	assert.ErrorContains(t, br.Close(), "no_such_table")
	assert.Zero(t, e.busy(), "the failed batch's lease came back at Close")
	assert.ErrorIs(t, br.Tx().Rollback(ctx), pgx.ErrTxClosed)
	assert.ErrorIs(t, br.Tx().Commit(ctx), pgx.ErrTxClosed)
	_, err := br.Tx().Exec(ctx, "INSERT INTO items VALUES (2, 'late')")
	assert.ErrorIs(t, err, manager.ErrLeaseReleased)
	assert.Zero(t, e.countItems(t))

	// A batch whose transaction did begin still holds its lease until the
	// transaction ends, also when a statement after the BEGIN fails.
	b = &pgx.Batch{}
	b.BeginTx(pgx.TxOptions{})
	b.Queue("INSERT INTO items VALUES (3, 'x')")
	b.Queue("SELECT 1/0")
	br = e.pool.SendBatch(ctx, b)
	assert.ErrorContains(t, br.Close(), "division by zero")
	assert.Equal(t, 1, e.busy(), "the transaction still holds the lease")
	require.NoError(t, br.Tx().Rollback(ctx))
	assert.Zero(t, e.busy())
	assert.Zero(t, e.countItems(t))
}

// TestPoolOverAForeignStdlibDialerNeverLeasesABusyConnection: NewPool over a
// Manager whose Dialer is pgx's stdlib connector itself (no session reset,
// and here no liveness ping, as stdlib.OptionShouldPing allows). A lease
// released with its Rows still open leaves pgx's connection busy, and that
// connector's ResetSession keeps it. The next lease must get a connection
// that works, not the busy one, on which every call would fail with "conn
// busy" for good.
func TestPoolOverAForeignStdlibDialerNeverLeasesABusyConnection(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 1})
	cfg, err := pgx.ParseConfig(e.dsn)
	require.NoError(t, err)
	noPing := stdlib.OptionShouldPing(func(context.Context, stdlib.ShouldPingParams) bool { return false })
	m, err := manager.New(manager.Config{Server: "foreign", MaxSize: 1,
		Dialer: manager.DialerFunc(func(ctx context.Context, req manager.DialRequest) (driver.Conn, error) {
			c := cfg.Copy()
			c.User, c.Password = roleOf(req), req.Token.Value
			return stdlib.GetConnector(*c, noPing).Connect(ctx)
		})})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		require.NoError(t, m.Close(ctx))
	})
	pool := postgres.NewPool(m)
	ctx := as(t, e.alice)

	for _, leave := range []struct {
		name string
		f    func(l *postgres.Lease)
	}{
		{"Rows", func(l *postgres.Lease) {
			rows, err := l.Query(ctx, "SELECT generate_series(1, 100000)")
			require.NoError(t, err)
			require.True(t, rows.Next())
		}},
		{"Row", func(l *postgres.Lease) { _ = l.QueryRow(ctx, "SELECT 1") }},
		{"BatchResults", func(l *postgres.Lease) {
			_ = l.SendBatch(ctx, &pgx.Batch{QueuedQueries: []*pgx.QueuedQuery{{SQL: "SELECT 1"}}})
		}},
	} {
		t.Run(leave.name, func(t *testing.T) {
			l, err := pool.Acquire(ctx)
			require.NoError(t, err)
			defer l.Release() // if the test fails first; Release is idempotent
			pid := backendPID(t, ctx, l)
			leave.f(l)
			l.Release()

			l2, err := pool.Acquire(ctx)
			require.NoError(t, err)
			defer l2.Release()
			var again int32
			require.NoError(t, l2.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&again))
			assert.NotEqual(t, pid, again, "the connection left busy was closed, not leased")
		})
	}
}
