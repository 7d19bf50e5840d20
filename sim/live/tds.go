package live

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/sim/entra"
	"github.com/idpool/idpool/sim/tds"
	"github.com/idpool/idpool/sim/workload"
	"github.com/idpool/idpool/tokens"
	mssql "github.com/microsoft/go-mssqldb"
)

// sqlAudience is the resource Azure SQL tokens are for.
const sqlAudience = "https://database.windows.net/"

// TDS is the embedded SQL Server backend: sim/tds on loopback, reached with
// the real go-mssqldb driver through idpool's *sql.DB facade, with service
// principals whose tokens come from sim/entra through the real azidentity
// credentials. Every operation runs SELECT SUSER_SNAME(), @@SPID, @@TRANCOUNT.
type TDS struct {
	cfg      workload.Config
	ent      *entra.Server
	srv      *tds.Server
	db       *manager.DB
	sessions *sessionCounter

	mu      sync.Mutex
	rng     *rand.Rand
	idents  map[string]*tdsIdentity
	expiry  map[int]time.Time // SPID -> token expiry, refreshed from the server
	expired uint64
	texts   []string
	odd     suspects
}

// NewTDS returns the embedded SQL Server backend.
func NewTDS() *TDS { return &TDS{} }

type tdsIdentity struct {
	name string
	id   tokens.Identity
}

func (i *tdsIdentity) Name() string  { return i.name }
func (i *tdsIdentity) Login() string { return i.name }

// Name implements Backend.
func (b *TDS) Name() string { return "tds" }

// Start implements Backend.
func (b *TDS) Start(_ context.Context, cfg workload.Config) error {
	b.cfg = cfg
	b.rng = cfg.NewRand(3)
	b.idents = map[string]*tdsIdentity{}
	b.expiry = map[int]time.Time{}
	b.sessions = newSessionCounter(cfg.Pool.MaxSize, cfg.Pool.MaxTotal)
	ent, err := entra.New(entra.Config{Lifetime: cfg.TokenLifetime})
	if err != nil {
		return err
	}
	b.ent = ent
	b.srv, err = tds.Start(tds.Options{VerifyToken: b.verify})
	if err != nil {
		ent.Close()
		return err
	}
	u := url.URL{Scheme: "sqlserver", Host: b.srv.Addr(), RawQuery: "database=simdb&encrypt=disable&dial+timeout=5"}
	d, err := sqlserver.NewDialer(u.String())
	if err != nil {
		b.stop()
		return err
	}
	b.db, err = manager.OpenDialer(actors.DialerFunc(func(ctx context.Context, req actors.DialRequest) (driver.Conn, error) {
		return b.dial(ctx, d, req)
	}), d.ServerKey(), ManagerConfig(cfg, "", nil))
	if err != nil {
		b.stop()
		return err
	}
	// The table the transactions insert into, made by a first identity.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	setup := b.Identity("setup").(*tdsIdentity)
	if _, err := b.db.ExecContext(tokens.WithIdentity(ctx, setup.id), "CREATE TABLE simtx (n INT)"); err != nil {
		b.stop()
		return fmt.Errorf("creating the table: %w", err)
	}
	return nil
}

func (b *TDS) stop() {
	if b.srv != nil {
		_ = b.srv.Close()
	}
	if b.ent != nil {
		b.ent.Close()
	}
}

// verify is the server's check of a FEDAUTH token: signed by sim/entra, for
// Azure SQL, not expired. The login is the app's client id.
func (b *TDS) verify(token string) (string, time.Time, error) {
	c, err := b.ent.Verify(token, sqlAudience)
	if err != nil {
		if strings.Contains(err.Error(), "expired") {
			return "", time.Time{}, fmt.Errorf("%w", tds.ErrTokenExpired)
		}
		return "", time.Time{}, err
	}
	var exp time.Time
	if c.ExpiresAt != nil {
		exp = c.ExpiresAt.Time
	}
	return c.AppID, exp, nil
}

// Identity implements Backend: a service principal registered at sim/entra.
func (b *TDS) Identity(name string) Identity {
	b.mu.Lock()
	defer b.mu.Unlock()
	if i, ok := b.idents[name]; ok {
		return i
	}
	tenant := b.ent.Tenant()
	b.ent.RegisterApp(tenant, name, "secret-"+name, "oid-"+name)
	o := &azidentity.ClientSecretCredentialOptions{ClientOptions: b.ent.ClientOptions(), DisableInstanceDiscovery: true}
	id, err := tokens.ClientSecretIdentity(tenant, name, "secret-"+name, o)
	if err != nil {
		panic(fmt.Sprintf("sim: building identity %s: %v", name, err)) // names are ours: cannot fail
	}
	i := &tdsIdentity{name: name, id: id}
	b.idents[name] = i
	return i
}

func (b *TDS) draw() (float64, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rng.Float64(), b.cfg.Latency.Dial.Sample(b.rng)
}

// dial applies the login faults, then dials with go-mssqldb.
func (b *TDS) dial(ctx context.Context, d *sqlserver.Dialer, req actors.DialRequest) (driver.Conn, error) {
	f := b.cfg.Faults
	u, lat := b.draw()
	switch {
	case u < f.RefuseLogin:
		return nil, ErrLoginRefused
	case u < f.RefuseLogin+f.DialError:
		return nil, ErrNetwork
	case u < f.RefuseLogin+f.DialError+f.SlowLogin:
		lat = f.SlowLoginTime
	}
	if lat > 0 {
		t := time.NewTimer(lat)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
	login := req.Key.Discriminator()
	b.sessions.dialing(login)
	c, err := d.Dial(ctx, req)
	if err != nil {
		b.sessions.gone(login)
		return nil, err
	}
	return &tdsConn{Conn: c.(*mssql.Conn), b: b, login: login}, nil
}

// tdsConn is a go-mssqldb connection whose Close the backend counts.
// Embedding keeps every optional driver interface of *mssql.Conn.
type tdsConn struct {
	*mssql.Conn
	b      *TDS
	login  string
	closed sync.Once
}

func (c *tdsConn) Close() error {
	c.closed.Do(func() { c.b.sessions.gone(c.login) })
	return c.Conn.Close()
}

// Do implements Backend through the *sql.DB facade.
func (b *TDS) Do(ctx context.Context, id Identity, op Op, obs Observer) Outcome {
	ti := id.(*tdsIdentity)
	ctx = tokens.WithIdentity(ctx, ti.id)
	acqCtx, cancel := ctx, context.CancelFunc(func() {})
	if op.CtxDeadline {
		acqCtx, cancel = context.WithTimeout(ctx, b.cfg.AcquireTimeout)
	}
	start := time.Now()
	conn, err := b.db.Conn(acqCtx)
	cancel()
	out := Outcome{Wait: time.Since(start)}
	if err != nil {
		out.AcquireErr = err
		return out
	}
	out.Granted = true
	stmtCtx, cancelStmt := context.WithTimeout(ctx, 10*time.Second+op.Slow)
	defer cancelStmt()
	var spid, trancount int64
	if err := conn.QueryRowContext(stmtCtx, "SELECT SUSER_SNAME(), @@SPID, @@TRANCOUNT").Scan(&out.LoggedInAs, &spid, &trancount); err != nil {
		out.OpErr = err
		_ = conn.Close()
		return out
	}
	out.Session = spid
	out.DirtyTx = trancount > 0
	obs.Granted(spid, out.Wait)
	b.checkExpiry(int(spid), start)
	out.OpErr = tdsOp(stmtCtx, conn, op)
	obs.Releasing(spid)
	var dc *manager.Conn
	_ = conn.Raw(func(c any) error { dc, _ = c.(*manager.Conn); return nil })
	// The facade noted a broken connection as the statement failed, so
	// this Close closes it rather than keep it.
	_ = conn.Close()
	// A careless caller kept the driver connection (database/sql released
	// its lease on Close, with no idle connections kept) and calls on it.
	if dc != nil {
		out.StaleUse = staleUse(ti.Login(), spid, dc.Ping(stmtCtx))
	}
	return out
}

func tdsOp(ctx context.Context, conn *sql.Conn, op Op) error {
	switch op.Kind {
	case workload.OpSlow:
		_, err := conn.ExecContext(ctx, fmt.Sprintf("WAITFOR DELAY '00:00:%06.3f'", op.Slow.Seconds()))
		return err
	case workload.OpCommit:
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO simtx VALUES (1)"); err != nil {
			_ = tx.Rollback()
			return err
		}
		sleep(op.Hold)
		return tx.Commit()
	case workload.OpAbandon:
		// A transaction opened in SQL and left open: the next user must not
		// inherit it (Release closes the session: drivers/sqlserver reports
		// the transaction, see manager.TxReporter).
		if _, err := conn.ExecContext(ctx, "BEGIN TRAN"); err != nil {
			return err
		}
		if _, err := conn.ExecContext(ctx, "INSERT INTO simtx VALUES (1)"); err != nil {
			return err
		}
		sleep(op.Hold)
		return nil
	default:
		sleep(op.Hold)
		_, err := conn.ExecContext(ctx, "SELECT 1")
		return err
	}
}

// checkExpiry judges a statement that ran on a session whose login token
// had already expired, on a lease whose acquire started at start (see
// expiredUse).
func (b *TDS) checkExpiry(spid int, start time.Time) {
	now := time.Now()
	b.mu.Lock()
	exp, ok := b.expiry[spid]
	b.mu.Unlock()
	if !ok || !exp.After(now) {
		// Unknown or stale (SPIDs are reused): ask the server.
		exp = time.Time{}
		for _, s := range b.srv.Sessions() {
			if s.SPID == spid {
				exp = s.TokenExpiresOn
			}
		}
		b.mu.Lock()
		b.expiry[spid] = exp
		b.mu.Unlock()
	}
	if exp.IsZero() || exp.After(now) {
		return
	}
	violation, text := expiredUse(int64(spid), start, exp, now, max(b.cfg.Pool.TokenThreshold, time.Nanosecond))
	if !violation {
		b.odd.add("token_expired_during_lease", "%s", text)
		return
	}
	b.mu.Lock()
	b.expired++
	if len(b.texts) < 3 {
		b.texts = append(b.texts, text)
	}
	b.mu.Unlock()
}

// Gauges implements Backend.
func (b *TDS) Gauges() Gauges {
	s := b.db.Manager.Stats()
	return Gauges{Pools: s.Pools, Open: s.Total.Open, Waiters: s.Total.Waiters, TokenMints: s.Total.TokenMints}
}

// Faults implements Backend.
func (b *TDS) Faults() Faults { return tdsFaults{b} }

type tdsFaults struct{ b *TDS }

func (f tdsFaults) KillSession() bool {
	ss := f.b.srv.Sessions()
	if len(ss) == 0 {
		return false
	}
	u, _ := f.b.draw()
	return f.b.srv.Kill(ss[int(u*float64(len(ss)))].SPID)
}

func (f tdsFaults) TokenOutage(on bool) { f.b.ent.SetFailing(on) }

func (f tdsFaults) RotateToken(name string) { f.b.ent.Rotate(name) }

// Close implements Backend.
func (b *TDS) Close(ctx context.Context) (Final, error) {
	var fin Final
	err := b.db.DB.Close()
	if cerr := b.db.Manager.Close(ctx); cerr != nil {
		err = errors.Join(err, fmt.Errorf("closing the manager: %w", cerr))
	}
	s := b.db.Manager.Stats()
	fin.Stats.Hits, fin.Stats.PhysicalOpens, fin.Stats.TokenMints = s.Total.Hits, s.Total.Opens, s.Total.TokenMints
	fin.Stats.Rotations, fin.Stats.StaleDrained = s.Total.Rotations, s.Total.StaleDrained
	fin.Stats.PoolsCreated, fin.Stats.PoolsRetired = s.PoolsCreated, s.PoolsRetired
	fin.Stats.Closes = s.Total.Closes
	fin.Violations.OverMax = b.sessions.violations()
	fin.Samples = b.sessions.samples()
	b.mu.Lock()
	fin.Violations.ExpiredTokenUse = b.expired
	fin.Samples = append(fin.Samples, b.texts...)
	b.mu.Unlock()
	fin.Suspects = &b.odd
	// Sessions close on the server a moment after the client closes them.
	deadline := time.Now().Add(2 * time.Second)
	for len(b.srv.Sessions()) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(b.srv.Sessions()); n > 0 {
		fin.Violations.LeakedConns = uint64(n)
		fin.Samples = append(fin.Samples, fmt.Sprintf("leaked: %d sessions still open at the server after Close", n))
	}
	b.stop()
	return fin, err
}
