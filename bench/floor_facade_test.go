package bench

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// The facade floor experiment (issue #15, end to end): what SELECT 1 costs
// at the least through a *sql.DB that, like manager.OpenDB, lets
// database/sql keep no connection (issue #11: a connection kept by
// database/sql could serve another identity). Each query then runs
// database/sql's whole connection cycle: Connector.Connect hands it a
// connection (a lease), database/sql wraps it in a new driverConn, asks it
// for QueryContext (driver.ErrSkip from go-mssqldb, which has none, so
// database/sql prepares), runs the statement, and on the way back calls
// IsValid, where the facade gives the lease back, and then Close, because
// SetMaxIdleConns(0) keeps nothing idle.
//
// The floor peer does exactly that over the cheapest pool there is: a
// buffered channel of the driver's own connections opened up front. No
// actor, no state machine, no guard, no identity. Its connection gives
// itself back in IsValid (or Close, whichever comes first) after
// ResetSession, as a lease's release does (for go-mssqldb a flag on the
// next request); with a StatementCacher driver (pgx) it prepares as the
// facade does, through the connection's statement cache.
//
// If this floor is below 0.97x plain database/sql, the end-to-end target
// cannot be met while the facade keeps database/sql from keeping
// connections; idpool's distance above the floor is the lease's hot path
// and the facade's wrappers.
//
// The design facade floor (peer floor_design) is the same *sql.DB with each
// checkout made by the design floor's actor (floor_design_test.go: two
// protoactor messages, the clock read per message, a deadline checked per
// checkout, the session reset on release) instead of the channel: what the
// facade costs at the least under idpool's design.
//
//	go test ./bench -run '^$' -bench 'FloorFacade' -count 6 -benchtime 300ms | benchstat -col /peer -
//	go test ./bench -run '^$' -bench 'FloorFacade/tds/select1/peer=idpool' -cpuprofile cpu.out
//
// The memdb rows run the same three over sim/memdb (no network, no server):
// the client side's cost alone, in nanoseconds.
//
// PostgreSQL rows need PostgreSQL 15 (internal/pgtest) and are skipped
// without it. Their floor resets nothing (pgx's ResetSession checks the
// connection only): it bounds the facade's structure, not its session
// reset, whose own floor is drivers/postgres's BenchmarkResetFloor.

// BenchmarkFloorFacade runs SELECT 1 (and one *sql.Stmt of SELECT @p1 or
// $1::int) from e2eGoroutines goroutines through plain database/sql
// (MaxOpenConns = MaxIdleConns = e2eSize), the facade floor and idpool's
// facade (MaxSize e2eSize), on sim/memdb, sim/tds and PostgreSQL. Besides ns/op it
// reports cpu-ns/op, the process's CPU time per query (sim/tds's server
// runs in this process and is counted; PostgreSQL's is not).
func BenchmarkFloorFacade(b *testing.B) {
	for _, server := range []struct {
		name  string
		start func() (e2eServer, error)
	}{{"memdb", startMemdbE2E}, {"tds", startTDS}, {"postgres", startPostgres}} {
		b.Run(server.name, func(b *testing.B) {
			srv, err := server.start()
			if errors.Is(err, errSkip) {
				b.Skip(err)
			}
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() {
				if err := srv.close(); err != nil {
					b.Error(err)
				}
			})
			for _, query := range []string{"select1", "stmt"} {
				stmtQuery := ""
				if query == "stmt" {
					stmtQuery = srv.stmtQuery
				}
				peers := []string{PeerDatabaseSQL, "floor", floorDesignPeer.Name, PeerIdpool}
				if srv.noReset != nil {
					// The floor resets nothing: idpool with the reset
					// off is the like-for-like row.
					peers = append(peers, peerIdpoolNoReset)
				}
				for _, peer := range peers {
					b.Run(fmt.Sprintf("%s/peer=%s", query, peer), func(b *testing.B) {
						p, err := newFacadeFloorPeer(srv, peer, stmtQuery)
						if err != nil {
							b.Fatal(err)
						}
						defer func() {
							if err := p.Close(); err != nil {
								b.Error(err)
							}
						}()
						if err := p.warm(context.Background(), e2eSize); err != nil {
							b.Fatal(err)
						}
						cpu0 := processCPU()
						runParallelPairs(b, p, e2eGoroutines, nil)
						if cpu := processCPU() - cpu0; cpu > 0 {
							b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
						}
					})
				}
			}
		})
	}
}

// peerIdpoolNoReset is idpool's facade over a PostgreSQL Dialer built with
// postgres.WithoutSessionReset.
const peerIdpoolNoReset = "idpool_noreset"

// startMemdbE2E is sim/memdb as an end-to-end server: no network and no
// server work, so its rows show the client side alone in absolute terms
// (database/sql, the pool, the facade's wrappers), on a CPU-bound run.
func startMemdbE2E() (e2eServer, error) {
	env := NewEnv(1)
	return e2eServer{
		connector: func() (driver.Connector, error) { return env.DB.Connector(env.Label(0)), nil },
		dialer:    env.DB, key: memdbServer, stmtQuery: "SELECT 1",
		close: func() error { return nil },
	}, nil
}

// newFacadeFloorPeer builds one of the three *sql.DBs the experiment
// compares, as a queryPool running SELECT 1 (or stmtQuery prepared).
func newFacadeFloorPeer(srv e2eServer, peer, stmtQuery string) (*queryPool, error) {
	switch peer {
	case PeerDatabaseSQL:
		return newPlainQueryPool(srv, stmtQuery)
	case "floor", floorDesignPeer.Name:
		c, err := newChanConnector(srv, e2eSize)
		if err != nil {
			return nil, err
		}
		if peer == floorDesignPeer.Name {
			c.checkOutThroughActor(e2eSize)
		}
		db := sql.OpenDB(c)
		db.SetMaxIdleConns(0) // as manager.OpenDB
		return newQueryPool(db, nil, stmtQuery)
	case PeerIdpool, peerIdpoolNoReset:
		dialer := srv.dialer
		if peer == peerIdpoolNoReset {
			dialer = srv.noReset
		}
		m, err := manager.New(manager.Config{Server: srv.key, Dialer: dialer, MaxSize: e2eSize})
		if err != nil {
			return nil, err
		}
		return newQueryPool(manager.OpenDB(m, manager.WithDefaultIdentity(tokens.SQLLogin())), m, stmtQuery)
	}
	return nil, fmt.Errorf("no peer %q", peer)
}

// chanConnector is the facade floor's pool: the driver's own connections,
// opened up front, in a buffered channel; or, for the design facade floor,
// the design floor's actor.
type chanConnector struct {
	idle   chan driver.Conn
	raw    driver.Connector
	caches bool // the dialer is a StatementCacher: prepare as the facade does
	// actor, if set, makes every checkout instead of idle.
	actor     *floorDesignPool
	actorDone sync.Once // sql.DB.Close and the caller may both Close
}

// checkOutThroughActor gives the checkouts to a design floor actor, which
// takes over the size connections opened up front.
func (c *chanConnector) checkOutThroughActor(size int) {
	c.actor = newFloorDesignPool(1, 0, func(int) driver.Connector { return c.raw })
	for range size {
		// The actor opens nothing (size 0): each connection goes to it as
		// a release of a lease it never granted, and stays idle there.
		raw := <-c.idle
		c.actor.floorPool.Release(&floorLease{pid: c.actor.pids[0], conn: &floorDesignConn{Conn: raw, deadline: time.Now().Add(floorLifetime)}})
	}
}

func newChanConnector(srv e2eServer, size int) (*chanConnector, error) {
	raw, err := srv.connector()
	if err != nil {
		return nil, err
	}
	c := &chanConnector{idle: make(chan driver.Conn, size), raw: raw}
	if sc, ok := srv.dialer.(manager.StatementCacher); ok {
		c.caches = sc.CachesStatements()
	}
	for range size {
		conn, err := raw.Connect(context.Background())
		if err != nil {
			return nil, errors.Join(err, c.Close())
		}
		c.idle <- conn
	}
	return c, nil
}

// Connect takes an idle connection, waiting for one as long as ctx allows
// (the design floor's actor waits without a bound).
func (c *chanConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if c.actor != nil {
		l, err := c.actor.Acquire(ctx, 0)
		if err != nil {
			return nil, err
		}
		return &chanConn{raw: l.(*floorLease).conn.(*floorDesignConn).Conn, pool: c, lease: l}, nil
	}
	select {
	case raw := <-c.idle:
		return &chanConn{raw: raw, pool: c}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Driver is the driver's own: database/sql asks it nothing here.
func (c *chanConnector) Driver() driver.Driver { return c.raw.Driver() }

// Close closes the idle connections; sql.DB.Close calls it, after closing
// its own driverConns, which gives every connection back.
func (c *chanConnector) Close() error {
	if c.actor != nil {
		// The actor keeps the connections; memdb's and sim/tds's servers
		// outlive the peer, and closing them is not what is measured.
		c.actorDone.Do(func() { _ = c.actor.Close() })
		return nil
	}
	var errs []error
	for {
		select {
		case raw := <-c.idle:
			errs = append(errs, raw.Close())
		default:
			return errors.Join(errs...)
		}
	}
}

// chanConn is the floor's lease as database/sql sees it: the raw
// connection until it gives itself back.
type chanConn struct {
	raw   driver.Conn // nil once given back
	pool  *chanConnector
	lease Conn // the design floor's lease, when its actor checked raw out
}

var (
	_ driver.ConnPrepareContext = (*chanConn)(nil)
	_ driver.QueryerContext     = (*chanConn)(nil)
	_ driver.Validator          = (*chanConn)(nil)
)

// giveBack resets the session as a lease's release does and puts the
// connection back; a connection that fails the reset is closed, and the
// pool has one fewer (the experiment then fails for want of connections).
func (c *chanConn) giveBack() error {
	raw := c.raw
	if raw == nil {
		return nil
	}
	c.raw = nil
	if c.lease != nil {
		c.pool.actor.Release(c.lease) // resets the session, as the lease's release does
		return nil
	}
	if r, ok := raw.(driver.SessionResetter); ok {
		if err := r.ResetSession(context.Background()); err != nil {
			return errors.Join(err, raw.Close())
		}
	}
	c.pool.idle <- raw
	return nil
}

// IsValid gives the connection back, as the facade's Conn.IsValid gives
// its lease back, and says true: database/sql then closes the driverConn,
// keeping none idle.
func (c *chanConn) IsValid() bool {
	if v, ok := c.raw.(driver.Validator); ok && !v.IsValid() {
		return false
	}
	return c.giveBack() == nil
}

// Close gives the connection back if IsValid has not.
func (c *chanConn) Close() error { return c.giveBack() }

func (c *chanConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// PrepareContext prepares on the driver, or, for a StatementCacher driver,
// returns a statement that runs its text through the connection's cache.
func (c *chanConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if c.pool.caches {
		return cachedStmt{conn: c.raw, query: query}, nil
	}
	if p, ok := c.raw.(driver.ConnPrepareContext); ok {
		return p.PrepareContext(ctx, query)
	}
	return c.raw.Prepare(query)
}

// QueryContext forwards, or answers driver.ErrSkip as the facade does for
// a driver without QueryerContext (go-mssqldb): database/sql prepares.
func (c *chanConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if q, ok := c.raw.(driver.QueryerContext); ok {
		return q.QueryContext(ctx, query, args)
	}
	return nil, driver.ErrSkip
}

func (c *chanConn) Begin() (driver.Tx, error) {
	return nil, errors.New("facade floor: no transactions")
}

// cachedStmt runs its query text through a pgx connection, whose statement
// cache prepares it once per connection (manager's connStmt, unguarded).
type cachedStmt struct {
	conn  driver.Conn
	query string
}

func (cachedStmt) Close() error  { return nil }
func (cachedStmt) NumInput() int { return -1 }

func (s cachedStmt) Exec([]driver.Value) (driver.Result, error) {
	return nil, errors.New("facade floor: Exec without context")
}

func (s cachedStmt) Query([]driver.Value) (driver.Rows, error) {
	return nil, errors.New("facade floor: Query without context")
}

func (s cachedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.conn.(driver.QueryerContext).QueryContext(ctx, s.query, args)
}

// TestFacadeFloorIsAPool runs queries on sim/tds through the facade floor,
// and through the design facade floor, from more goroutines than it has
// connections: every query is answered, database/sql keeps no connection
// (every driverConn closed on its way back), and every connection is back
// in the channel (or idle in the actor) at the end.
func TestFacadeFloorIsAPool(t *testing.T) {
	srv, err := startTDS()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.close() }()
	for _, throughActor := range []bool{false, true} {
		t.Run(fmt.Sprintf("actor=%v", throughActor), func(t *testing.T) {
			const size = 2
			c, err := newChanConnector(srv, size)
			if err != nil {
				t.Fatal(err)
			}
			if throughActor {
				c.checkOutThroughActor(size)
			}
			defer func() { _ = c.Close() }()
			db := sql.OpenDB(c)
			db.SetMaxIdleConns(0)
			p, err := newQueryPool(db, nil, srv.stmtQuery)
			if err != nil {
				t.Fatal(err)
			}
			const goroutines, each = 6, 50
			var wg sync.WaitGroup
			for range goroutines {
				wg.Go(func() {
					for range each {
						if _, err := p.Acquire(context.Background(), 0); err != nil {
							t.Error(err)
							return
						}
						var n int
						if err := db.QueryRowContext(context.Background(), "SELECT 1").Scan(&n); err != nil || n != 1 {
							t.Errorf("SELECT 1: %d, %v", n, err)
							return
						}
					}
				})
			}
			wg.Wait()
			if s := db.Stats(); s.Idle != 0 || s.MaxIdleClosed < goroutines*each {
				t.Errorf("database/sql kept connections: %+v", s)
			}
			back := len(c.idle)
			if throughActor {
				back = c.actor.idle()
			}
			if back != size {
				t.Errorf("%d connections back in the pool, want %d", back, size)
			}
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
