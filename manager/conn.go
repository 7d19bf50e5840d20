package manager

import (
	"context"
	"database/sql/driver"
	"errors"
)

// Conn is a leased connection as a database/sql/driver connection. It
// implements every optional interface database/sql looks for and forwards
// each to the driver's connection when that has it; when it does not, Conn
// does what database/sql would have done without the interface, so wrapping
// never changes behaviour. Its Close releases the lease.
type Conn struct{ lease *Lease }

var (
	_ driver.Conn               = (*Conn)(nil)
	_ driver.ConnBeginTx        = (*Conn)(nil)
	_ driver.ConnPrepareContext = (*Conn)(nil)
	_ driver.QueryerContext     = (*Conn)(nil)
	_ driver.ExecerContext      = (*Conn)(nil)
	_ driver.NamedValueChecker  = (*Conn)(nil)
	_ driver.Pinger             = (*Conn)(nil)
	_ driver.SessionResetter    = (*Conn)(nil)
	_ driver.Validator          = (*Conn)(nil)
)

// Lease returns the lease behind the connection.
func (c *Conn) Lease() *Lease { return c.lease }

// Prepare forwards to the driver.
func (c *Conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// PrepareContext forwards to the driver's PrepareContext, or Prepare.
func (c *Conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	l := c.lease
	if err := c.checkIdentity(ctx); err != nil {
		return nil, err
	}
	l.touched(ctx)
	var s driver.Stmt
	var err error
	if p, ok := l.raw.(driver.ConnPrepareContext); ok {
		s, err = p.PrepareContext(ctx, query)
	} else {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s, err = l.raw.Prepare(query)
	}
	if err != nil {
		return nil, l.note(ctx, err)
	}
	return l.wrapStmt(s), nil
}

// Close releases the lease; see Lease.Close.
func (c *Conn) Close() error { return c.lease.Close() }

// Begin starts a transaction with default options.
//
// Deprecated: use BeginTx, as database/sql does.
func (c *Conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

// BeginTx starts a transaction, tracked so that Release rolls it back if the
// caller never finishes it.
func (c *Conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	l := c.lease
	if err := c.checkIdentity(ctx); err != nil {
		return nil, err
	}
	var tx driver.Tx
	var err error
	l.touched(ctx)
	if b, ok := l.raw.(driver.ConnBeginTx); ok {
		tx, err = b.BeginTx(ctx, opts)
	} else {
		// What database/sql does for a driver without ConnBeginTx.
		if opts.Isolation != driver.IsolationLevel(0) {
			return nil, errors.New("idpool: driver does not support non-default isolation level")
		}
		if opts.ReadOnly {
			return nil, errors.New("idpool: driver does not support read-only transactions")
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		//lint:ignore SA1019 the fallback database/sql itself uses for such drivers
		tx, err = l.raw.Begin()
	}
	if err != nil {
		return nil, l.note(ctx, err)
	}
	t := &trackedTx{raw: tx, lease: l}
	l.tx = t
	return t, nil
}

// QueryContext forwards to the driver, or returns driver.ErrSkip so that
// database/sql prepares the statement, as it would for the bare driver.
func (c *Conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	l := c.lease
	if err := c.checkIdentity(ctx); err != nil {
		return nil, err
	}
	if q, ok := l.raw.(driver.QueryerContext); ok {
		l.touched(ctx)
		rows, err := q.QueryContext(ctx, query, args)
		return rows, l.note(ctx, err)
	}
	return nil, driver.ErrSkip
}

// ExecContext forwards to the driver, or returns driver.ErrSkip.
func (c *Conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	l := c.lease
	if err := c.checkIdentity(ctx); err != nil {
		return nil, err
	}
	if e, ok := l.raw.(driver.ExecerContext); ok {
		l.touched(ctx)
		res, err := e.ExecContext(ctx, query, args)
		return res, l.note(ctx, err)
	}
	return nil, driver.ErrSkip
}

// CheckNamedValue forwards to the driver, or returns driver.ErrSkip, which
// makes database/sql apply its default conversion.
func (c *Conn) CheckNamedValue(nv *driver.NamedValue) error {
	if n, ok := c.lease.raw.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// Ping forwards to the driver; without a Pinger there is nothing to check.
func (c *Conn) Ping(ctx context.Context) error {
	l := c.lease
	if err := c.checkIdentity(ctx); err != nil {
		return err
	}
	if p, ok := l.raw.(driver.Pinger); ok {
		return l.note(ctx, p.Ping(ctx))
	}
	return nil
}

// ResetSession forwards to the driver. database/sql calls it before reusing
// a connection it kept idle; the facade keeps none, but the call is honoured.
func (c *Conn) ResetSession(ctx context.Context) error {
	l := c.lease
	if l.broken {
		return driver.ErrBadConn
	}
	if r, ok := l.raw.(driver.SessionResetter); ok {
		return l.note(ctx, r.ResetSession(ctx))
	}
	return nil
}

// IsValid reports false once the connection is broken or released, so that
// database/sql never keeps it; otherwise it asks the driver.
func (c *Conn) IsValid() bool {
	l := c.lease
	if l.broken || l.done.Load() {
		return false
	}
	if v, ok := l.raw.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// checkIdentity guards facade connections; see Connector.checkIdentity.
func (c *Conn) checkIdentity(ctx context.Context) error {
	if f := c.lease.facade; f != nil {
		return f.checkIdentity(ctx, c.lease)
	}
	return nil
}

// trackedTx clears the lease's open transaction when it finishes.
type trackedTx struct {
	raw   driver.Tx
	lease *Lease
}

func (t *trackedTx) Commit() error {
	t.finish()
	err := t.raw.Commit()
	return t.lease.note(context.Background(), err)
}

func (t *trackedTx) Rollback() error {
	t.finish()
	err := t.raw.Rollback()
	return t.lease.note(context.Background(), err)
}

func (t *trackedTx) finish() {
	if t.lease.tx == t {
		t.lease.tx = nil
	}
}
