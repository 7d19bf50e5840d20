package bench

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
)

// Token economy parameters: 1,000 acquires by 32 goroutines on one identity
// with MaxSize 8, each holding its connection briefly, from a cold pool; the
// server kills every 100th connection handed back, so the pools reopen
// connections as they would after server-side kills or lifetime expiry.
const (
	tokenAcquires   = 1000
	tokenGoroutines = 32
	tokenSize       = 8
	tokenKillEvery  = 100
	tokenHold       = 100 * time.Microsecond
)

// Token-economy peers: where the token is minted.
const (
	PeerTokenLazy          = "idpool_lazy"                // idpool: only to open a connection, one mint shared by concurrent dials
	PeerTokenPerOpen       = "idpool_mint_per_open"       // the same pool, but the dialer mints on every physical open
	PeerTokenPerOpenSQL    = "database_sql_mint_per_open" // database/sql with a connector that mints per Connect (go-mssqldb's token provider)
	PeerTokenPerAcquire    = "idpool_mint_per_acquire"    // the same pool, but a token is minted before every acquire (mssql-python#659)
	tokenEconomyServerName = "memdb:0/tokens"
)

// tokenPool is a peer of token_economy: a Pool plus a way to reach the memdb
// connection behind a checked-out one, and a count of the opens it has
// begun and not finished (a mint in flight included).
type tokenPool struct {
	Pool
	raw     func(Conn) *memdb.Conn
	opening func() int
}

// settleEvery is how long settle pauses between looks at a pool's opens.
const settleEvery = 50 * time.Microsecond

// settle returns once p has no open in flight, or ctx's error. The workers'
// last release can leave one running: a dial started for a waiter that a
// released connection served instead, or database/sql's opener replacing a
// killed connection. Its mint is counted before its open, so counting
// before it lands reads one mint more than opens. pause waits between looks
// (nil: settleEvery); the pool reports no event when an open lands, so
// settle looks again.
func (p *tokenPool) settle(ctx context.Context, pause func(context.Context) error) error {
	if pause == nil {
		pause = func(ctx context.Context) error { return sleepCtx(ctx, settleEvery) }
	}
	for p.opening() > 0 {
		if err := pause(ctx); err != nil {
			return fmt.Errorf("opens still in flight after the workload: %w", err)
		}
	}
	return nil
}

// sleepCtx sleeps for d or until ctx ends, whichever comes first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// token_economy counts calls to a tokens.Source per 1,000 acquires. Every
// peer runs the same workload on a fresh pool; only where the mint happens
// differs. A Source call may be cheap when the credential caches (azidentity
// does), but each is a call the pool asked for, and a cache miss is a round
// trip to Entra ID.
func runTokenEconomy(ctx context.Context, o Options) ([]Result, error) {
	params := Params{{"acquires", tokenAcquires}, {"goroutines", tokenGoroutines}, {"max_size", tokenSize},
		{"kill_every", tokenKillEvery}, {"hold", tokenHold.String()}}
	names := []string{PeerTokenLazy, PeerTokenPerOpen, PeerTokenPerOpenSQL, PeerTokenPerAcquire}
	trials := make([]trialFunc, len(names))
	for i, name := range names {
		trials[i] = func(ctx context.Context) (map[string]float64, error) {
			return tokenTrial(ctx, name)
		}
	}
	runs, err := interleave(ctx, o.Runs, trials)
	if err != nil {
		return nil, err
	}
	var res []Result
	for i, name := range names {
		res = append(res, summarize(ScenarioTokenEconomy, name, params, MMintsPer1000, runs[i]))
	}
	o.progress("  %-40s %s", params, brief(res, MMintsPer1000, "mints/1000"))
	return res, nil
}

// tokenTrial runs the workload once on a fresh pool of the named kind.
func tokenTrial(ctx context.Context, name string) (m map[string]float64, err error) {
	db := memdb.New()
	var mints atomic.Int64
	src := tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		mints.Add(1)
		return tokens.Token{Value: "bench-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
	})
	p, err := newTokenPool(name, db, src)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, p.Close()) }()
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		firstErr atomic.Pointer[error]
	)
	for range tokenGoroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > tokenAcquires || firstErr.Load() != nil {
					return
				}
				c, err := p.Acquire(ctx, 0)
				if err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				time.Sleep(tokenHold)
				if i%tokenKillEvery == 0 {
					db.Kill(p.raw(c).ID())
				}
				p.Release(c)
			}
		}()
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		return nil, fmt.Errorf("%s: %w", name, *e)
	}
	m, err = p.count(ctx, db, &mints, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return m, nil
}

// count returns the trial's metrics once p has no open in flight (see
// settle; pause as there).
func (p *tokenPool) count(ctx context.Context, db *memdb.DB, mints *atomic.Int64, pause func(context.Context) error) (map[string]float64, error) {
	if err := p.settle(ctx, pause); err != nil {
		return nil, err
	}
	return map[string]float64{
		MMintsPer1000: float64(mints.Load()) * 1000 / tokenAcquires,
		MOpens:        float64(db.Opened()),
	}, nil
}

func newTokenPool(name string, db *memdb.DB, src tokens.Source) (*tokenPool, error) {
	leaseRaw := func(c Conn) *memdb.Conn { return c.(*manager.Lease).Raw().(*memdb.Conn) }
	newManager := func(d actors.Dialer) (*manager.Manager, error) {
		return manager.New(manager.Config{Server: tokenEconomyServerName, Dialer: d, MaxSize: tokenSize})
	}
	managerOpening := func(m *manager.Manager) func() int {
		return func() int {
			s := m.Stats().Total
			return s.Minting + s.AwaitingPermit + s.Dialing
		}
	}
	switch name {
	case PeerTokenLazy:
		m, err := newManager(db)
		if err != nil {
			return nil, err
		}
		id := tokens.New(tokens.KindManagedIdentity, "msi:bench", src)
		return &tokenPool{Pool: &managerPool{m: m, acquire: func(ctx context.Context) (*manager.Lease, error) { return m.Acquire(ctx, id) }}, raw: leaseRaw, opening: managerOpening(m)}, nil
	case PeerTokenPerOpen:
		// The pool knows no token (a SQL-login identity); the dialer mints
		// one for every connection it opens.
		m, err := newManager(actors.DialerFunc(func(ctx context.Context, req actors.DialRequest) (driver.Conn, error) {
			tok, err := src.Token(ctx)
			if err != nil {
				return nil, err
			}
			req.Token = tok
			return db.Dial(ctx, req)
		}))
		if err != nil {
			return nil, err
		}
		id := tokens.SQLLogin()
		return &tokenPool{Pool: &managerPool{m: m, acquire: func(ctx context.Context) (*manager.Lease, error) { return m.Acquire(ctx, id) }}, raw: leaseRaw, opening: managerOpening(m)}, nil
	case PeerTokenPerAcquire:
		// The caller fetches a token before every acquire, as code that
		// builds a token-bearing connection string per request does.
		m, err := newManager(db)
		if err != nil {
			return nil, err
		}
		id := tokens.SQLLogin()
		return &tokenPool{Pool: &managerPool{m: m, acquire: func(ctx context.Context) (*manager.Lease, error) {
			if _, err := src.Token(ctx); err != nil {
				return nil, err
			}
			return m.Acquire(ctx, id)
		}}, raw: leaseRaw, opening: managerOpening(m)}, nil
	case PeerTokenPerOpenSQL:
		sdb := sql.OpenDB(&mintingConnector{db: db, inner: db.Connector("msi:bench"), src: src})
		sdb.SetMaxOpenConns(tokenSize)
		sdb.SetMaxIdleConns(tokenSize)
		slots := newLazySlots(1, func(int) (*sql.DB, error) { return sdb, nil }, func(*sql.DB) {})
		return &tokenPool{Pool: &sqlPool{dbs: slots}, raw: func(c Conn) *memdb.Conn {
			var mc *memdb.Conn
			_ = c.(*sql.Conn).Raw(func(dc any) error { mc = dc.(*memdb.Conn); return nil })
			return mc
		}, opening: func() int {
			// With every worker's connection back, what database/sql
			// counts in use is an open queued or running in its opener.
			return sdb.Stats().InUse
		}}, nil
	}
	return nil, fmt.Errorf("bench: unknown token peer %q", name)
}

// managerPool adapts a manager with a custom acquire to Pool.
type managerPool struct {
	m       *manager.Manager
	acquire func(context.Context) (*manager.Lease, error)
}

func (p *managerPool) Acquire(ctx context.Context, _ int) (Conn, error) {
	l, err := p.acquire(ctx)
	if err != nil {
		return nil, err
	}
	return l, nil
}

func (p *managerPool) Release(c Conn) { c.(*manager.Lease).Release(nil) }

func (p *managerPool) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return p.m.Close(ctx)
}

// mintingConnector mints a token for every Connect, as go-mssqldb's
// NewConnectorWithAccessTokenProvider does.
type mintingConnector struct {
	db    *memdb.DB
	inner driver.Connector
	src   tokens.Source
}

func (c *mintingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if _, err := c.src.Token(ctx); err != nil {
		return nil, err
	}
	return c.inner.Connect(ctx)
}

func (c *mintingConnector) Driver() driver.Driver { return c.inner.Driver() }
