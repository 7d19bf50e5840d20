package bench

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"

	"github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for the plain database/sql peer
	mssql "github.com/microsoft/go-mssqldb"

	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/internal/pgtest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/sim/tds"
	"github.com/idpool/idpool/tokens"
)

const (
	e2eSize       = 8
	e2eGoroutines = 8
)

// end_to_end: SELECT 1 per operation from e2eGoroutines goroutines, through
// a *sql.DB either way: plain database/sql with its own pool (MaxOpenConns =
// MaxIdleConns = e2eSize), or idpool's facade, manager.OpenDB, where
// database/sql keeps nothing idle and every connection is a lease from the
// identity's pool (MaxSize e2eSize). Both log in as the same SQL login to the
// same server over loopback; the server runs on the same cores, so the
// ratio, not the absolute rate, is the point.
func runEndToEnd(ctx context.Context, o Options) ([]Result, error) {
	var out []Result
	for _, server := range []struct {
		name  string
		start func() (e2eServer, error)
	}{{"tds", startTDS}, {"postgres", startPostgres}} {
		params := Params{{"server", server.name}, {"max_size", e2eSize}, {"goroutines", e2eGoroutines}}
		srv, err := server.start()
		if errors.Is(err, errSkip) {
			out = append(out, skipped(ScenarioEndToEnd, PeerIdpool, params, err.Error()))
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", server.name, err)
		}
		res, err := measureEndToEnd(ctx, o, params, srv, srv.dialer, "")
		if err == nil {
			out = append(out, res...)
			// The same through one *sql.Stmt prepared on the *sql.DB, as
			// sqlc's emit_prepared_queries and ORMs that prepare run.
			res, err = measureEndToEnd(ctx, o, append(params, Param{"query", "stmt"}), srv, srv.dialer, srv.stmtQuery)
			out = append(out, res...)
		}
		if err == nil && srv.noReset != nil {
			// And with the session reset turned off, as plain database/sql
			// runs: what the opt-out buys.
			res, err = measureEndToEnd(ctx, o, append(params, Param{"query", "stmt"}, Param{"reset", "off"}), srv, srv.noReset, srv.stmtQuery)
			out = append(out, res...)
		}
		err = errors.Join(err, srv.close())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", server.name, err)
		}
	}
	return out, nil
}

// e2eServer is a running server and how to reach it both ways.
type e2eServer struct {
	// connector opens the driver's own connections: plain database/sql
	// is sql.OpenDB over it.
	connector func() (driver.Connector, error)
	dialer    manager.Dialer // idpool's dialer
	// noReset is idpool's dialer with the session reset off
	// (postgres.WithoutSessionReset), nil where the driver has no such
	// option (sim/tds, whose reset is free).
	noReset manager.Dialer
	key     string // the dialers' server key
	// stmtQuery is the prepared statement's query: one parameter, echoed.
	stmtQuery string
	close     func() error
}

// plain is plain database/sql over the driver's own connector.
func (s e2eServer) plain() (*sql.DB, error) {
	c, err := s.connector()
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}

// requirePGEnv set to 1 (as in CI) turns a missing PostgreSQL from a skipped
// row into an error, as it does for the tests (internal/pgtest).
const requirePGEnv = "IDPOOL_REQUIRE_PG"

const e2eUser, e2ePassword = "bench", "bench-Passw0rd"

func startTDS() (e2eServer, error) {
	srv, err := tds.Start(tds.Options{Users: map[string]string{e2eUser: e2ePassword}})
	if err != nil {
		return e2eServer{}, err
	}
	u := url.URL{Scheme: "sqlserver", User: url.UserPassword(e2eUser, e2ePassword), Host: srv.Addr(),
		RawQuery: "database=app&encrypt=disable&dial+timeout=5"}
	dsn := u.String()
	d, err := sqlserver.NewDialer(dsn)
	if err != nil {
		return e2eServer{}, errors.Join(err, srv.Close())
	}
	return e2eServer{
		connector: func() (driver.Connector, error) { return mssql.NewConnector(dsn) },
		dialer:    d, key: d.ServerKey(), close: srv.Close, stmtQuery: "SELECT @p1",
	}, nil
}

func startPostgres() (e2eServer, error) {
	srv, err := pgtest.Launch(pgtest.WithSetting("log_connections", "off"), pgtest.WithSetting("log_disconnections", "off"))
	if errors.Is(err, pgtest.ErrNotInstalled) && os.Getenv(requirePGEnv) != "1" {
		return e2eServer{}, fmt.Errorf("%w: PostgreSQL is not installed (.ci/install-postgres.sh installs it; %s=1 makes this an error): %v",
			errSkip, requirePGEnv, err)
	}
	if err != nil {
		return e2eServer{}, err
	}
	dsn := srv.AdminDSN()
	d, err := postgres.NewDialer(dsn)
	if err != nil {
		return e2eServer{}, errors.Join(err, srv.Close())
	}
	nr, err := postgres.NewDialer(dsn, postgres.WithoutSessionReset())
	if err != nil {
		return e2eServer{}, errors.Join(err, srv.Close())
	}
	return e2eServer{
		connector: func() (driver.Connector, error) {
			return stdlib.GetDefaultDriver().(driver.DriverContext).OpenConnector(dsn)
		},
		dialer: d, noReset: nr, key: d.ServerKey(), close: srv.Close, stmtQuery: "SELECT $1::int",
	}, nil
}

// measureEndToEnd measures SELECT 1 through both *sql.DBs, the facade's over
// dialer, or, when stmtQuery is set, one *sql.Stmt of it prepared on each
// *sql.DB and run with the argument 1 per operation.
func measureEndToEnd(ctx context.Context, o Options, params Params, srv e2eServer, dialer manager.Dialer, stmtQuery string) ([]Result, error) {
	plain := PoolFactory{Name: PeerDatabaseSQL, New: func(*Env, int, int) (Pool, error) {
		return newPlainQueryPool(srv, stmtQuery)
	}}
	facade := PoolFactory{Name: PeerIdpool, New: func(*Env, int, int) (Pool, error) {
		m, err := manager.New(manager.Config{Server: srv.key, Dialer: dialer, MaxSize: e2eSize})
		if err != nil {
			return nil, err
		}
		return newQueryPool(manager.OpenDB(m, manager.WithDefaultIdentity(tokens.SQLLogin())), m, stmtQuery)
	}}
	return measurePairs(ctx, o, pairSetup{
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
}

// queryPool runs one SELECT 1 per Acquire through a *sql.DB, or its
// prepared statement with the argument 1; Release does nothing. It lets the
// pair machinery time whole queries.
type queryPool struct {
	db   *sql.DB
	m    *manager.Manager // the facade's manager, closed with it
	stmt *sql.Stmt        // nil: SELECT 1 as text
}

// newPlainQueryPool is the plain database/sql peer: sql.OpenDB over the
// driver's own connector, e2eSize connections kept open and idle.
func newPlainQueryPool(srv e2eServer, stmtQuery string) (*queryPool, error) {
	db, err := srv.plain()
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(e2eSize)
	db.SetMaxIdleConns(e2eSize)
	return newQueryPool(db, nil, stmtQuery)
}

// newQueryPool prepares stmtQuery on db unless it is empty.
func newQueryPool(db *sql.DB, m *manager.Manager, stmtQuery string) (*queryPool, error) {
	p := &queryPool{db: db, m: m}
	if stmtQuery != "" {
		var err error
		if p.stmt, err = db.PrepareContext(context.Background(), stmtQuery); err != nil {
			return nil, errors.Join(err, p.Close())
		}
	}
	return p, nil
}

var queryDone = new(int)

func (p *queryPool) Acquire(ctx context.Context, _ int) (Conn, error) {
	var n int
	var row *sql.Row
	if p.stmt != nil {
		row = p.stmt.QueryRowContext(ctx, 1)
	} else {
		row = p.db.QueryRowContext(ctx, "SELECT 1")
	}
	if err := row.Scan(&n); err != nil {
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
	var err error
	if p.stmt != nil {
		err = p.stmt.Close()
	}
	err = errors.Join(err, p.db.Close())
	if p.m != nil {
		err = errors.Join(err, (&IdpoolPool{M: p.m}).Close())
	}
	return err
}
