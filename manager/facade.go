package manager

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"

	"github.com/idpool/idpool/tokens"
)

// FacadeOption configures OpenDB and NewConnector.
type FacadeOption func(*Connector)

// WithDefaultIdentity makes calls whose ctx carries no identity use id. Without
// it such calls fail with tokens.ErrNoIdentity; they never borrow another
// identity's connection.
func WithDefaultIdentity(id tokens.Identity) FacadeOption {
	return func(c *Connector) { c.fallback, c.hasFallback = id, true }
}

// Connector is a driver.Connector whose connections are leases from a
// Manager, for the identity carried in each call's ctx (tokens.WithIdentity).
type Connector struct {
	m           *Manager
	fallback    tokens.Identity
	hasFallback bool
}

// NewConnector returns a Connector over m. Most callers want OpenDB. A nil
// option is skipped, as drivers/postgres's options are: an option chosen
// at run time and left unset is nil.
func NewConnector(m *Manager, opts ...FacadeOption) *Connector {
	c := &Connector{m: m}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	return c
}

// Connect returns a connection for database/sql; its Close releases the
// lease behind it. The lease is acquired now, for the ctx's identity or, if
// it carries none, the default identity. database/sql's own connection
// opener connects with a ctx of its own, which carries none, and hands the
// connection to whichever call is waiting: so a connection bound to the
// default identity this way is rebound at its first call if that call
// carries another identity, and without a default identity Connect returns
// a shell bound at its first call. Either way a connection never serves a
// call as anyone but the call's own identity. A nil *Connector fails with
// ErrNoManager.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	if c == nil {
		// sql.OpenDB((*Connector)(nil)): over no Manager, as a zero
		// Connector's calls fail, not with a nil-pointer panic.
		return nil, ErrNoManager
	}
	conn := newShell(c)
	_, explicit := tokens.IdentityFrom(ctx)
	if explicit {
		// database/sql connects with the ctx of the call that asked, which
		// the connection serves; its opener connects with a ctx of its
		// own, and serves a waiting call or none (see Conn.IsValid).
		conn.shell.served.Store(true)
	}
	if _, err := c.identityFor(ctx); err != nil {
		return conn, nil // no identity: the first call binds it, or fails
	}
	if _, err := conn.leaseFor(ctx); err != nil {
		return nil, err
	}
	conn.fresh = !explicit
	return conn, nil
}

// identityFor is the identity a db-level call with ctx runs as.
func (c *Connector) identityFor(ctx context.Context) (tokens.Identity, error) {
	if id, ok := tokens.IdentityFrom(ctx); ok {
		return id, nil
	}
	if c.hasFallback {
		return c.fallback, nil
	}
	return tokens.Identity{}, tokens.ErrNoIdentity
}

// Driver returns a driver whose Open refuses: connections come only through
// the Connector, which needs a ctx to find the identity.
func (c *Connector) Driver() driver.Driver { return facadeDriver{} }

type facadeDriver struct{}

func (facadeDriver) Open(string) (driver.Conn, error) {
	return nil, errors.New("idpool: open connections through manager.OpenDB, not sql.Open")
}

// OpenDB returns a standard *sql.DB whose every call runs on a connection of
// the identity in the call's ctx:
//
//	rows, err := db.QueryContext(tokens.WithIdentity(ctx, alice), "SELECT SUSER_SNAME()")
//
// Calls without an identity fail with tokens.ErrNoIdentity unless
// WithDefaultIdentity is given, except two that touch no session, so that
// GORM, sqlx and sqlc work with their defaults:
//
//   - Ping (and GORM's automatic ping at gorm.Open) with no identity checks
//     that the Manager is open (else ErrClosed) and, if the Dialer is a
//     Prober (the sqlserver and postgres dialers are), that the server
//     accepts a network connection: a TCP connect, no login. It acquires
//     nothing and borrows no identity's connection, so it cannot say that
//     any identity can log in; a Ping with an identity (or with
//     WithDefaultIdentity) logs in as it and pings that session.
//   - Prepare with no identity (sqlc's Prepare(ctx, db) at start-up)
//     prepares nothing yet: the statement is prepared at its first Exec or
//     Query, on a connection of that call's identity, and a query error
//     surfaces there.
//
// A *sql.Tx or *sql.Conn holds one lease until
// Commit, Rollback or Close, and its calls run on that lease: a call whose
// ctx carries no identity runs as the lease's, and one whose ctx carries
// another identity fails with ErrIdentityMismatch. A *sql.Tx is bound at
// BeginTx, with its ctx. A *sql.Conn is bound with db.Conn's ctx, except
// when database/sql gives it a connection its connection opener has just
// made (SetMaxOpenConns set, db.Conn waiting, and a connection closed as
// bad or expired meanwhile): database/sql then calls nothing of the
// driver's with db.Conn's ctx, so the *sql.Conn is bound by its first
// call, to that call's identity: a first call whose ctx carries none binds
// it to the default identity (or fails with tokens.ErrNoIdentity), and
// later calls with db.Conn's identity fail with ErrIdentityMismatch. Pass
// the identity in the ctx of every call on a *sql.Conn, or call its
// PingContext with db.Conn's ctx first. A *sql.Stmt prepared on
// a *sql.Conn or *sql.Tx is bound the same way; one prepared on the *sql.DB
// is prepared on a connection of each caller's identity as it runs, and
// again only when database/sql's connection has been bound to another lease
// since. When the Dialer is a StatementCacher (drivers/postgres with pgx's
// default query mode), preparing costs nothing: the driver's statement cache
// prepares each query text once per physical connection.
//
// db.Stats() is database/sql's view of the facade's connections, which are
// shells around leases, not sessions: OpenConnections and InUse count the
// calls, *sql.Conn and *sql.Tx holding a lease right now (Idle stays 0), and
// MaxIdleClosed counts every call's connection closed on its way back,
// because OpenDB keeps none idle: each such close released a lease to its
// pool, and closed no session. WaitCount and WaitDuration stay 0 unless
// SetMaxOpenConns is set. For the sessions, read Manager.Stats() (open,
// idle and busy connections per identity pool, waits, dials, closes by
// reason) or the Manager's metrics (Config.MeterProvider).
//
// Every path goes through the lease guard (docs/ARCHITECTURE.md, "The
// isolation guard"), so database/sql's own pool settings change cost, never
// whose connection a call runs on:
//
//   - SetMaxIdleConns: OpenDB sets 0, so every connection database/sql
//     puts back is closed (its lease released) and reuse is the Manager's
//     decision, per identity. Raised, database/sql keeps that many
//     connections as shells: each gives its lease back as database/sql
//     takes it (Conn.IsValid) and is bound again when database/sql hands it
//     to a call, for that call's identity, so the setting cannot keep
//     connections of an identity warm (a lease kept by an idle connection
//     would make the callers of its identity wait on their pool for it). It
//     saves database/sql creating and closing a connection per call (about
//     1-1.5 us of CPU and 5 allocations), at one cost, which is why it is
//     not the default: a driver connection that a careless caller kept past
//     its *sql.Conn (Conn.Raw's, which database/sql forbids) is refused only
//     until database/sql hands the shell to another call; after that the
//     kept handle reaches that call's lease. The guard still refuses it if
//     its ctx names another identity, but a call whose ctx names the same
//     identity, or none, would run in that call's session.
//   - SetMaxOpenConns: caps connections across all identities (default
//     none): calls beyond it queue inside database/sql, whose connection
//     opener connects with a ctx of its own and hands connections from
//     call to call. Each is bound at the hand-over to the receiving call's
//     identity, so every queued call runs as its own identity. The cap
//     limits calls in flight, not sessions: caps on sessions belong in
//     Config, MaxSize per identity and MaxTotal across them.
//   - SetConnMaxLifetime and SetConnMaxIdleTime: database/sql closes (so
//     releases) its connections after that long; the physical connection's
//     lifetime is Config.MaxLifetime, and a released connection goes back
//     to its pool, not to the server.
func OpenDB(m *Manager, opts ...FacadeOption) *sql.DB {
	db := sql.OpenDB(NewConnector(m, opts...))
	db.SetMaxIdleConns(0)
	return db
}
