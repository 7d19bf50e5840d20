package live

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/sim/workload"
	"github.com/idpool/idpool/tokens"
)

// MemDB is the in-memory backend: sim/memdb as the server (sessions
// labelled with their login, tokens held to their expiry), a simulated
// token endpoint per identity, and the manager's Lease API in front.
type MemDB struct {
	cfg      workload.Config
	db       *memdb.DB
	m        *manager.Manager
	sessions *sessionCounter
	outage   atomic.Bool
	// expired counts statements run after their token expired that the
	// pool is to blame for (see expiredUse); texts describe the first few,
	// odd holds the rest.
	expired atomic.Uint64
	odd     suspects

	mu     sync.Mutex
	rng    *rand.Rand
	idents map[string]*memIdentity
	texts  []string
}

// NewMemDB returns the in-memory backend.
func NewMemDB() *MemDB { return &MemDB{} }

type memIdentity struct {
	name string
	id   tokens.Identity
	ep   *endpoint
}

func (i *memIdentity) Name() string  { return i.name }
func (i *memIdentity) Login() string { return "sim:" + i.name }

// Name implements Backend.
func (b *MemDB) Name() string { return "memdb" }

// Start implements Backend.
func (b *MemDB) Start(_ context.Context, cfg workload.Config) error {
	b.cfg = cfg
	b.rng = cfg.NewRand(3)
	b.idents = map[string]*memIdentity{}
	b.db = memdb.New()
	b.db.EnforceTokenExpiry(true)
	b.db.SetDialHook(b.dialFaults)
	b.sessions = newSessionCounter(cfg.Pool.MaxSize, cfg.Pool.MaxTotal)
	m, err := manager.New(ManagerConfig(cfg, "memdb:0/sim", actors.DialerFunc(b.dial)))
	if err != nil {
		return err
	}
	b.m = m
	return nil
}

// ManagerConfig maps the workload's pool settings onto manager.Config: in
// the workload zero turns a timer off, in the manager a negative value does.
func ManagerConfig(cfg workload.Config, server string, d manager.Dialer) manager.Config {
	off := func(v time.Duration) time.Duration {
		if v <= 0 {
			return -1
		}
		return v
	}
	p := cfg.Pool
	return manager.Config{
		Server: server, Dialer: d,
		MaxSize: p.MaxSize, MinSize: p.MinSize, MaxWaiters: p.MaxWaiters,
		AcquireTimeout:   cfg.AcquireTimeout,
		DialTimeout:      p.DialTimeout,
		IdleTimeout:      off(p.IdleTimeout),
		MaxLifetime:      off(p.MaxLifetime),
		HealthCheckAfter: off(p.HealthCheckAfter),
		TokenThreshold:   max(p.TokenThreshold, time.Nanosecond),
		MintTimeout:      p.MintTimeout,
		PoolIdleTimeout:  off(p.PoolIdleTimeout),
		DialBackoff:      off(p.DialBackoff),
		DialBackoffMax:   off(p.DialBackoffMax),
		MaxTotal:         p.MaxTotal,
		Seed:             cfg.Seed,
	}
}

// Identity implements Backend.
func (b *MemDB) Identity(name string) Identity {
	b.mu.Lock()
	defer b.mu.Unlock()
	if i, ok := b.idents[name]; ok {
		return i
	}
	ep := &endpoint{name: name, lifetime: b.cfg.TokenLifetime, threshold: b.cfg.Pool.TokenThreshold,
		latency: func() time.Duration { return b.sample(b.cfg.Latency.Mint) }, outage: b.outage.Load}
	i := &memIdentity{name: name, ep: ep}
	i.id = tokens.New(tokens.KindProvidedToken, i.Login(), ep)
	b.idents[name] = i
	return i
}

func (b *MemDB) sample(d workload.Dist) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return d.Sample(b.rng)
}

func (b *MemDB) draw() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rng.Float64()
}

// dialFaults is the server's login: latency, then refusals and errors.
func (b *MemDB) dialFaults(ctx context.Context, _ memdb.DialAttempt) error {
	f := b.cfg.Faults
	lat := b.sample(b.cfg.Latency.Dial)
	var err error
	switch u := b.draw(); {
	case u < f.RefuseLogin:
		err = ErrLoginRefused
	case u < f.RefuseLogin+f.DialError:
		err = ErrNetwork
	case u < f.RefuseLogin+f.DialError+f.SlowLogin:
		lat = f.SlowLoginTime
	}
	if lat > 0 {
		t := time.NewTimer(lat)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

// dial wraps memdb's Dial to count sessions per login and in total.
func (b *MemDB) dial(ctx context.Context, req actors.DialRequest) (driver.Conn, error) {
	login := req.Key.Discriminator()
	b.sessions.dialing(login)
	c, err := b.db.Dial(ctx, req)
	if err != nil {
		b.sessions.gone(login)
		return nil, err
	}
	return &trackedConn{Conn: c.(*memdb.Conn), b: b, login: login}, nil
}

// trackedConn is a memdb session whose Close the backend counts. Embedding
// keeps every optional driver interface of *memdb.Conn.
type trackedConn struct {
	*memdb.Conn
	b      *MemDB
	login  string
	closed atomic.Bool
}

func (c *trackedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.b.sessions.gone(c.login)
	}
	return c.Conn.Close()
}

// Do implements Backend: every op first asks the session who it is.
func (b *MemDB) Do(ctx context.Context, id Identity, op Op, obs Observer) Outcome {
	mi := id.(*memIdentity)
	start := time.Now()
	l, err := acquire(ctx, b.m, mi.id, b.cfg.AcquireTimeout, op.CtxDeadline)
	out := Outcome{Wait: time.Since(start)}
	if err != nil {
		out.AcquireErr = err
		return out
	}
	out.Granted = true
	tc := l.Raw().(*trackedConn)
	out.Session = tc.ID()
	out.DirtyTx = tc.Info().InTx
	obs.Granted(out.Session, out.Wait)
	stmtCtx, cancelStmt := context.WithTimeout(context.Background(), 10*time.Second+op.Slow)
	defer cancelStmt()
	out.LoggedInAs, out.OpErr = memQuery(stmtCtx, l.Conn())
	if out.OpErr == nil {
		out.OpErr = memOp(stmtCtx, l.Conn(), op)
	}
	if errors.Is(out.OpErr, memdb.ErrTokenExpired) {
		b.expiredUse(out.Session, start, tc.Info().TokenExpiresOn)
	}
	obs.Releasing(out.Session)
	l.Release(out.OpErr)
	// A careless caller keeps its lease and calls on it again.
	_, err = l.Conn().ExecContext(stmtCtx, "SELECT 1", nil)
	out.StaleUse = staleUse(mi.Login(), out.Session, err)
	return out
}

// expiredUse judges a statement memdb refused because the session's token,
// expiring at exp, had expired (see the package function).
func (b *MemDB) expiredUse(session int64, start, exp time.Time) {
	violation, text := expiredUse(session, start, exp, time.Now(), max(b.cfg.Pool.TokenThreshold, time.Nanosecond))
	if !violation {
		b.odd.add("token_expired_during_lease", "%s", text)
		return
	}
	b.expired.Add(1)
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.texts) < 3 {
		b.texts = append(b.texts, text)
	}
}

// staleUse describes a call on a released lease that was not refused with
// manager.ErrLeaseReleased, so reached its connection.
func staleUse(login string, session int64, err error) string {
	if errors.Is(err, manager.ErrLeaseReleased) {
		return ""
	}
	return fmt.Sprintf("stale lease use: a call on %s's lease after its release reached session %d (answer: %v)", login, session, err)
}

// acquire leases a connection, bounding the wait either with a ctx
// deadline (the caller sends Cancel when it passes) or, without one, with
// the manager's AcquireTimeout, which the pool enforces itself.
func acquire(ctx context.Context, m *manager.Manager, id tokens.Identity, timeout time.Duration, ctxDeadline bool) (*manager.Lease, error) {
	if !ctxDeadline {
		return m.Acquire(ctx, id)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return m.Acquire(ctx, id)
}

// memQuery is memdb's SELECT SUSER_SNAME().
func memQuery(ctx context.Context, c *manager.Conn) (string, error) {
	rows, err := c.QueryContext(ctx, "SELECT IDENTITY", nil)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	dest := make([]driver.Value, 1)
	if err := rows.Next(dest); err != nil && err != io.EOF {
		return "", err
	}
	s, _ := dest[0].(string)
	return s, nil
}

func memOp(ctx context.Context, c *manager.Conn, op Op) error {
	switch op.Kind {
	case workload.OpSlow:
		_, err := c.ExecContext(ctx, fmt.Sprintf("SLEEP %s", op.Slow), nil)
		return err
	case workload.OpCommit, workload.OpAbandon:
		tx, err := c.BeginTx(ctx, driver.TxOptions{})
		if err != nil {
			return err
		}
		if _, err := c.ExecContext(ctx, "INSERT INTO simtx", nil); err != nil {
			return err
		}
		sleep(op.Hold)
		if op.Kind == workload.OpCommit {
			return tx.Commit()
		}
		return nil // abandoned: Release rolls it back
	default:
		sleep(op.Hold)
		// A statement at the end too, so a session killed or expired
		// while held is noticed.
		_, err := c.ExecContext(ctx, "SELECT 1", nil)
		return err
	}
}

func sleep(d time.Duration) {
	if d > 0 {
		time.Sleep(d)
	}
}

// Gauges implements Backend.
func (b *MemDB) Gauges() Gauges {
	s := b.m.Stats()
	return Gauges{Pools: s.Pools, Open: s.Total.Open, Waiters: s.Total.Waiters, TokenMints: s.Total.TokenMints}
}

// Faults implements Backend.
func (b *MemDB) Faults() Faults { return memFaults{b} }

type memFaults struct{ b *MemDB }

func (f memFaults) KillSession() bool {
	n := f.b.db.Opened()
	for range 8 {
		if n == 0 {
			return false
		}
		id := int64(f.b.draw()*float64(n)) + 1
		if info, ok := f.b.db.Conn(id); ok && !info.Closed && !info.Dead {
			f.b.db.Kill(id)
			return true
		}
	}
	return false
}

func (f memFaults) TokenOutage(on bool) { f.b.outage.Store(on) }

func (f memFaults) RotateToken(name string) { f.b.Identity(name).(*memIdentity).ep.rotate() }

// Close implements Backend.
func (b *MemDB) Close(ctx context.Context) (Final, error) {
	var fin Final
	err := b.m.Close(ctx)
	if err != nil {
		err = fmt.Errorf("closing the manager: %w", err)
	}
	s := b.m.Stats()
	fin.Stats.Hits, fin.Stats.PhysicalOpens, fin.Stats.TokenMints = s.Total.Hits, s.Total.Opens, s.Total.TokenMints
	fin.Stats.Rotations, fin.Stats.StaleDrained = s.Total.Rotations, s.Total.StaleDrained
	fin.Stats.PoolsCreated, fin.Stats.PoolsRetired = s.PoolsCreated, s.PoolsRetired
	fin.Stats.Closes = s.Total.Closes
	fin.Violations.OverMax = b.sessions.violations()
	fin.Samples = b.sessions.samples()
	fin.Violations.ExpiredTokenUse = b.expired.Load()
	b.mu.Lock()
	fin.Samples = append(fin.Samples, b.texts...)
	b.mu.Unlock()
	fin.Suspects = &b.odd
	if n := b.db.OpenNow(); n > 0 {
		fin.Violations.LeakedConns = uint64(n)
		fin.Samples = append(fin.Samples, fmt.Sprintf("leaked: %d sessions still open after Close", n))
	}
	if n := b.db.Misuse(); n > 0 {
		// Two goroutines on one session, or use after close: a lease
		// handed out twice.
		fin.Violations.DoubleLease += uint64(n)
		for i, m := range b.db.Misuses() {
			if i == 3 {
				break
			}
			fin.Samples = append(fin.Samples, "driver misuse: "+m.String())
		}
	}
	if errors.Is(err, context.DeadlineExceeded) && fin.Violations.LeakedConns == 0 {
		fin.Violations.LeakedConns = 1
		fin.Samples = append(fin.Samples, fmt.Sprintf("leaked: Close gave up (%v) with connections still closing", err))
	}
	return fin, err
}
