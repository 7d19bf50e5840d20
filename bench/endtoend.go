package bench

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for the plain database/sql peer

	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/internal/pgtest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

const (
	e2eSize       = 8
	e2eGoroutines = 8
)

// end_to_end: SELECT 1 per operation from e2eGoroutines goroutines, through
// a *sql.DB either way: plain database/sql with its own pool, or idpool's
// facade (database/sql keeps nothing idle; every connection comes from the
// identity's pool). Both reach the same server over loopback, which runs on
// the same two cores, so the ratio, not the absolute rate, is the point.
func runEndToEnd(ctx context.Context, o Options) ([]Result, error) {
	params := func(server string) Params {
		return Params{{"server", server}, {"max_size", e2eSize}, {"goroutines", e2eGoroutines}}
	}
	out := []Result{
		skipped(ScenarioEndToEnd, PeerIdpool, params("tds"),
			"sim/tds (simulated SQL Server over TDS) is not in this tree yet"),
	}
	res, err := endToEndPostgres(ctx, o, params("postgres"))
	if errors.Is(err, errSkip) {
		return append(out, skipped(ScenarioEndToEnd, PeerIdpool, params("postgres"), err.Error())), nil
	}
	if err != nil {
		return nil, err
	}
	return append(out, res...), nil
}

func endToEndPostgres(ctx context.Context, o Options, params Params) (res []Result, err error) {
	srv, err := pgtest.Launch(pgtest.WithSetting("log_connections", "off"), pgtest.WithSetting("log_disconnections", "off"))
	if errors.Is(err, pgtest.ErrNotInstalled) {
		return nil, fmt.Errorf("%w: PostgreSQL is not installed (.ci/install-postgres.sh installs it): %v", errSkip, err)
	}
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, srv.Close()) }()
	dsn := srv.AdminDSN()
	dialer, err := postgres.NewDialer(dsn)
	if err != nil {
		return nil, err
	}
	plain := PoolFactory{Name: PeerDatabaseSQL, New: func(*Env, int, int) (Pool, error) {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(e2eSize)
		db.SetMaxIdleConns(e2eSize)
		return &queryPool{db: db}, nil
	}}
	facade := PoolFactory{Name: PeerIdpool, New: func(*Env, int, int) (Pool, error) {
		m, err := manager.New(manager.Config{Server: dialer.ServerKey(), Dialer: dialer, MaxSize: e2eSize})
		if err != nil {
			return nil, err
		}
		return &queryPool{db: openFacade(m, tokens.SQLLogin()), m: m}, nil
	}}
	res, err = measurePairs(ctx, o, pairSetup{
		scenario:   ScenarioEndToEnd,
		params:     params,
		env:        NewEnv(1),
		peers:      []PoolFactory{plain, facade},
		size:       e2eSize,
		identities: 1,
		work:       Workload{Goroutines: e2eGoroutines},
		prepare: func(ctx context.Context, p Pool) error {
			return p.(*queryPool).warm(ctx, e2eSize)
		},
		extra: func(m map[string]float64) { m[MQueriesPerSec] = m[MOpsPerSec] },
	})
	for i := range res {
		if res[i].Pool == PeerIdpool {
			res[i].Note = facadeNote
		}
	}
	return res, err
}

// queryPool runs one SELECT 1 per Acquire through a *sql.DB; Release does
// nothing. It lets the pair machinery time whole queries.
type queryPool struct {
	db *sql.DB
	m  *manager.Manager // the facade's manager, closed with it
}

var queryDone = new(int)

func (p *queryPool) Acquire(ctx context.Context, _ int) (Conn, error) {
	var n int
	if err := p.db.QueryRowContext(ctx, "SELECT 1").Scan(&n); err != nil {
		return nil, err
	}
	if n != 1 {
		return nil, fmt.Errorf("SELECT 1 returned %d", n)
	}
	return queryDone, nil
}

func (p *queryPool) Release(Conn) {}

// warm opens n connections at once, so both peers start with a full pool.
func (p *queryPool) warm(ctx context.Context, n int) error {
	conns := make([]*sql.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for range n {
		c, err := p.db.Conn(ctx)
		if err != nil {
			return err
		}
		if err := c.PingContext(ctx); err != nil {
			return err
		}
		conns = append(conns, c)
	}
	return nil
}

func (p *queryPool) Close() error {
	err := p.db.Close()
	if p.m != nil {
		err = errors.Join(err, (&IdpoolPool{M: p.m}).Close())
	}
	return err
}

// facadeNote says which facade the idpool row went through.
const facadeNote = "through bench's stand-in for manager.OpenDB (not merged yet): a driver.Connector whose Connect acquires a lease and whose conn's Close releases it, with SetMaxIdleConns(0)"

// openFacade is a stand-in for the manager's database/sql facade, built as
// DESIGN.md describes it, until manager.OpenDB lands: Connect acquires a lease
// for id, the lease's Conn (whose Close releases it) is the driver.Conn, and
// database/sql keeps nothing idle.
func openFacade(m *manager.Manager, id tokens.Identity) *sql.DB {
	db := sql.OpenDB(&leaseConnector{m: m, id: id})
	db.SetMaxIdleConns(0)
	return db
}

type leaseConnector struct {
	m  *manager.Manager
	id tokens.Identity
}

func (c *leaseConnector) Connect(ctx context.Context) (driver.Conn, error) {
	l, err := c.m.Acquire(ctx, c.id)
	if err != nil {
		return nil, err
	}
	return l.Conn(), nil
}

func (c *leaseConnector) Driver() driver.Driver { return leaseDriver{} }

type leaseDriver struct{}

func (leaseDriver) Open(string) (driver.Conn, error) {
	return nil, errors.New("bench: the idpool facade opens connections through its connector only")
}
