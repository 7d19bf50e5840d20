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

// NewConnector returns a Connector over m. Most callers want OpenDB.
func NewConnector(m *Manager, opts ...FacadeOption) *Connector {
	c := &Connector{m: m}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Connect acquires a lease for the ctx's identity and returns its connection;
// database/sql's Close of that connection releases the lease.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	id, err := c.identityFor(ctx)
	if err != nil {
		return nil, err
	}
	l, err := c.m.Acquire(ctx, id)
	if err != nil {
		return nil, err
	}
	l.facade = c
	return l.Conn(), nil
}

func (c *Connector) identityFor(ctx context.Context) (tokens.Identity, error) {
	if id, ok := tokens.IdentityFrom(ctx); ok {
		return id, nil
	}
	if c.hasFallback {
		return c.fallback, nil
	}
	return tokens.Identity{}, tokens.ErrNoIdentity
}

// checkIdentity refuses to run a call on a connection of another identity.
// database/sql can hand a connection straight from one caller to another
// when SetMaxOpenConns is set; answering driver.ErrBadConn makes it discard
// the connection (back to its own pool, unharmed) and retry on a new one,
// which Connect opens for the right identity.
func (c *Connector) checkIdentity(ctx context.Context, l *Lease) error {
	id, err := c.identityFor(ctx)
	if err != nil {
		return err
	}
	disc, err := id.Discriminator(ctx)
	if err != nil {
		return err
	}
	if disc != l.disc {
		return driver.ErrBadConn
	}
	return nil
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
// database/sql keeps no idle connection of its own (SetMaxIdleConns(0)), so
// each reuse decision is the pool's; a transaction or *sql.Conn holds its
// lease until Commit, Rollback or Close. Calls without an identity fail with
// tokens.ErrNoIdentity unless WithDefaultIdentity is given. Do not raise
// SetMaxIdleConns: an idle connection kept by database/sql is reused for the
// next call whatever its identity. Limits belong in Config (MaxSize per
// identity); leave SetMaxOpenConns at its default (no limit).
func OpenDB(m *Manager, opts ...FacadeOption) *sql.DB {
	db := sql.OpenDB(NewConnector(m, opts...))
	db.SetMaxIdleConns(0)
	return db
}
