package manager

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// probingDialer is memdb's dialer with a Probe that counts its calls and
// answers err.
type probingDialer struct {
	*memdb.DB
	probes atomic.Int32
	err    error
}

func (d *probingDialer) Probe(ctx context.Context) error {
	d.probes.Add(1)
	return d.err
}

func TestFacadePingWithoutIdentityProbesTheServerAndAcquiresNothing(t *testing.T) {
	mem := memdb.New()
	d := &probingDialer{DB: mem}
	m, _ := newManager(t, Config{Dialer: d})
	db := openFacade(t, m)

	require.NoError(t, db.Ping(), "a ping with no identity touches no session")
	require.NoError(t, db.PingContext(context.Background()))
	assert.EqualValues(t, 2, d.probes.Load(), "each ping asks the server")
	assert.Zero(t, m.Stats().Total.Acquires, "no lease of any identity was taken")
	assert.Zero(t, mem.Opened(), "no session was opened")

	// The *sql.DB is still open and serves identities (GORM closes it when
	// its automatic ping fails).
	var who string
	require.NoError(t, db.QueryRowContext(as("alice"), "SELECT IDENTITY").Scan(&who))
	assert.Equal(t, "test:alice", who)

	// A ping that carries an identity logs in as it.
	require.NoError(t, db.PingContext(as("bob")))
	assert.EqualValues(t, 2, d.probes.Load(), "an identity's ping pings its session instead")
	assert.Equal(t, 2, mem.Opened())
}

func TestFacadePingWithoutIdentityFailsWhenTheServerDoesNotAnswer(t *testing.T) {
	refused := errors.New("connect: connection refused")
	d := &probingDialer{DB: memdb.New(), err: refused}
	m, _ := newManager(t, Config{Dialer: d, Server: "memdb:1/down"})
	db := openFacade(t, m)
	err := db.Ping()
	require.ErrorIs(t, err, refused)
	assert.Contains(t, err.Error(), "memdb:1/down", "the error names the server")
	assert.Contains(t, err.Error(), "without an identity")
}

func TestFacadePingWithoutIdentityFailsOnceTheManagerIsClosed(t *testing.T) {
	m, err := New(Config{Server: "memdb:1/test", Dialer: memdb.New()})
	require.NoError(t, err)
	db := OpenDB(m)
	defer db.Close()
	require.NoError(t, db.Ping(), "no Prober: an open Manager is all a ping without identity can check")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, m.Close(ctx))
	assert.ErrorIs(t, db.Ping(), ErrClosed)
}

func TestFacadePingWithoutIdentityUsesTheDefaultIdentityWhenSet(t *testing.T) {
	d := &probingDialer{DB: memdb.New()}
	m, _ := newManager(t, Config{Dialer: d})
	db := openFacade(t, m, WithDefaultIdentity(identity("svc")))
	require.NoError(t, db.Ping())
	assert.Zero(t, d.probes.Load(), "with a default identity the ping logs in as it")
	assert.EqualValues(t, 1, m.Stats().Total.Acquires)
}

func TestFacadePrepareWithoutIdentityBindsAtFirstUse(t *testing.T) {
	for _, idle := range []int{0, 2} {
		t.Run(map[int]string{0: "defaults", 2: "idle_conns"}[idle], func(t *testing.T) {
			m, _ := newManager(t, Config{MaxSize: 2})
			db := openFacade(t, m)
			db.SetMaxIdleConns(idle)
			stmt, err := db.PrepareContext(context.Background(), "SELECT IDENTITY")
			require.NoError(t, err, "sqlc's Prepare(ctx, db) at start-up carries no identity")
			defer stmt.Close()
			assert.Zero(t, m.Stats().Total.Acquires, "preparing with no identity acquires nothing")
			for _, name := range []string{"alice", "bob", "alice"} {
				var who string
				require.NoError(t, stmt.QueryRowContext(as(name), "").Scan(&who))
				assert.Equal(t, "test:"+name, who)
			}
			var who string
			err = stmt.QueryRowContext(context.Background()).Scan(&who)
			assert.ErrorIs(t, err, tokens.ErrNoIdentity, "running it still needs an identity")
		})
	}
}

// cachingDialer is memdb's dialer claiming that its connections cache
// statements, as drivers/postgres's does for pgx.
type cachingDialer struct{ *memdb.DB }

func (cachingDialer) CachesStatements() bool { return true }

func TestFacadeStatementOfACachingDriverPreparesNothing(t *testing.T) {
	for _, caching := range []bool{false, true} {
		t.Run(map[bool]string{false: "driver_prepares", true: "driver_caches"}[caching], func(t *testing.T) {
			mem := memdb.New()
			var d Dialer = mem
			if caching {
				d = cachingDialer{mem}
			}
			m, _ := newManager(t, Config{Dialer: d, MaxSize: 1})
			db := openFacade(t, m)
			conn, err := db.Conn(as("alice"))
			require.NoError(t, err)
			defer conn.Close()
			uses := func() (n int) {
				require.NoError(t, conn.Raw(func(dc any) error {
					n = dc.(*Conn).Lease().Raw().(*memdb.Conn).Info().Uses
					return nil
				}))
				return n
			}
			before := uses()
			stmt, err := conn.PrepareContext(as("alice"), "SELECT IDENTITY")
			require.NoError(t, err)
			const n = 5
			for range n {
				var who string
				require.NoError(t, stmt.QueryRowContext(context.Background()).Scan(&who), "a *sql.Conn's statement runs on its lease")
				assert.Equal(t, "test:alice", who)
			}
			var who string
			err = stmt.QueryRowContext(as("bob")).Scan(&who)
			assert.ErrorIs(t, err, ErrIdentityMismatch, "the guard still refuses another identity")
			require.NoError(t, stmt.Close())
			want := n + 1 // the Prepare
			if caching {
				want = n
			}
			assert.Equal(t, want, uses()-before, "calls that reached the driver connection")
		})
	}
}

func TestFacadeStatementOfACachingDriverReportsQueryErrorsWhenRun(t *testing.T) {
	m, _ := newManager(t, Config{Dialer: cachingDialer{memdb.New()}})
	db := openFacade(t, m)
	stmt, err := db.PrepareContext(as("alice"), "NOT SQL")
	require.NoError(t, err, "the driver's cache prepares at first run")
	defer stmt.Close()
	_, err = stmt.ExecContext(as("alice"))
	require.Error(t, err)
	var one int
	require.NoError(t, db.QueryRowContext(as("alice"), "SELECT 1").Scan(&one), "the failed statement left the connection usable")
}

func TestFacadeStatsDescribeShellsNotSessions(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 2})
	db := openFacade(t, m)
	const calls = 5
	for range calls {
		var who string
		require.NoError(t, db.QueryRowContext(as("alice"), "SELECT IDENTITY").Scan(&who))
	}
	st := db.Stats()
	assert.Equal(t, sql.DBStats{MaxIdleClosed: calls}, st,
		"each call's connection was closed on its way back (OpenDB keeps none idle): a lease released, not a session closed")
	ms := m.Stats()
	assert.Equal(t, 1, ms.Total.Open, "one session served all five calls")
	assert.Equal(t, 1, ms.Total.Idle)
	assert.EqualValues(t, calls, ms.Total.Acquires)

	conn, err := db.Conn(as("alice"))
	require.NoError(t, err)
	tx, err := db.BeginTx(as("bob"), nil)
	require.NoError(t, err)
	st = db.Stats()
	assert.Equal(t, 2, st.InUse, "a *sql.Conn and a *sql.Tx each hold a shell")
	assert.Equal(t, 2, st.OpenConnections)
	assert.Zero(t, st.Idle)
	assert.Equal(t, 2, m.Stats().Total.Busy, "and each shell a lease")
	require.NoError(t, tx.Rollback())
	require.NoError(t, conn.Close())
	st = db.Stats()
	assert.Zero(t, st.OpenConnections)
	assert.EqualValues(t, calls+2, st.MaxIdleClosed)
	assert.Equal(t, 2, m.Stats().Total.Open, "the sessions stay open in their pools")
	assert.Zero(t, m.Stats().Total.Busy)
}

// cachingProber is a Dialer with both optional interfaces.
type cachingProber struct {
	*memdb.DB
	probes atomic.Int32
}

func (d *cachingProber) Probe(context.Context) error { d.probes.Add(1); return nil }
func (*cachingProber) CachesStatements() bool        { return true }

func TestDialerInterfacesSurviveHooksAndMetrics(t *testing.T) {
	d := &cachingProber{DB: memdb.New()}
	m, _ := newManager(t, Config{Dialer: d, MaxSize: 1,
		MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader())),
		Hooks:         Hooks{AfterConnect: func(context.Context, driver.Conn) error { return nil }}})
	db := openFacade(t, m)
	require.NoError(t, db.Ping())
	assert.EqualValues(t, 1, d.probes.Load(), "Probe is found on the Dialer the caller gave")

	conn, err := db.Conn(as("alice"))
	require.NoError(t, err)
	defer conn.Close()
	stmt, err := conn.PrepareContext(as("alice"), "NOT SQL")
	require.NoError(t, err, "CachesStatements too: nothing was prepared, so nothing failed yet")
	require.NoError(t, stmt.Close())
}
