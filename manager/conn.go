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

// PrepareContext forwards to the driver's PrepareContext, or Prepare. The
// statement stays bound to the lease: it runs only while the lease is held,
// and only for callers of the lease's identity.
func (c *Conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	l := c.lease
	if err := l.enter(ctx); err != nil {
		return nil, err
	}
	defer l.exit()
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
	if err := l.enter(ctx); err != nil {
		return nil, err
	}
	defer l.exit()
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
	q, ok := l.raw.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	if err := l.enter(ctx); err != nil {
		return nil, err
	}
	defer l.exit()
	l.touched(ctx)
	rows, err := q.QueryContext(ctx, query, args)
	if err != nil {
		return nil, l.note(ctx, err)
	}
	return l.wrapRows(rows), nil
}

// ExecContext forwards to the driver, or returns driver.ErrSkip.
func (c *Conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	l := c.lease
	e, ok := l.raw.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	if err := l.enter(ctx); err != nil {
		return nil, err
	}
	defer l.exit()
	l.touched(ctx)
	res, err := e.ExecContext(ctx, query, args)
	return res, l.note(ctx, err)
}

// CheckNamedValue forwards to the driver, or returns driver.ErrSkip, which
// makes database/sql apply its default conversion. It converts a value in
// memory and never reaches the server, so the guard does not gate it.
func (c *Conn) CheckNamedValue(nv *driver.NamedValue) error {
	if n, ok := c.lease.raw.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// Ping forwards to the driver; without a Pinger there is nothing to check.
func (c *Conn) Ping(ctx context.Context) error {
	l := c.lease
	if err := l.enter(ctx); err != nil {
		return err
	}
	defer l.exit()
	if p, ok := l.raw.(driver.Pinger); ok {
		return l.note(ctx, p.Ping(ctx))
	}
	return nil
}

// ResetSession is where database/sql hands a connection it kept (an idle
// one, with SetMaxIdleConns raised, or one passed straight to a waiting
// call, with SetMaxOpenConns set) to its next call, with that call's ctx.
// The connection must be the ctx's identity exactly (the default identity
// when the ctx carries none), and its lease still held; otherwise
// ResetSession answers an error matching driver.ErrBadConn (and saying
// why), so that database/sql discards it and retries on another, which
// Connect opens for the right identity. Then it forwards to the driver.
func (c *Conn) ResetSession(ctx context.Context) error {
	l := c.lease
	if err := l.enter(nil); err != nil {
		if errors.Is(err, ErrLeaseReleased) {
			return errHandoverReleased
		}
		return &guardError{msg: err.Error(), is: [2]error{driver.ErrBadConn, err}}
	}
	defer l.exit()
	if l.broken {
		return driver.ErrBadConn
	}
	if f := l.facade; f != nil {
		id, err := f.identityFor(ctx)
		if err != nil {
			return errHandoverNoIdentity
		}
		disc, err := id.Discriminator(ctx)
		if err != nil {
			return &guardError{msg: err.Error(), is: [2]error{driver.ErrBadConn, err}}
		}
		if disc != l.disc {
			return errHandoverOtherIdentity
		}
		// From here the connection serves calls of its own identity: a
		// later mismatch is a caller's error, not an opener's hand-over.
		l.unbound = false
	}
	if r, ok := l.raw.(driver.SessionResetter); ok {
		return l.note(ctx, r.ResetSession(ctx))
	}
	return nil
}

// IsValid reports false once the connection is broken or its lease ended,
// so that database/sql never keeps it; otherwise it asks the driver.
func (c *Conn) IsValid() bool {
	l := c.lease
	if err := l.enter(nil); err != nil {
		return false
	}
	defer l.exit()
	if l.broken {
		return false
	}
	if v, ok := l.raw.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// trackedTx clears the lease's open transaction when it finishes.
type trackedTx struct {
	raw   driver.Tx
	lease *Lease
}

// Commit commits, inside the lease guard: a transaction whose lease has
// ended is no longer the caller's (Release rolled it back).
func (t *trackedTx) Commit() error {
	if err := t.lease.enter(nil); err != nil {
		return err
	}
	defer t.lease.exit()
	t.finish()
	err := t.raw.Commit()
	return t.lease.note(context.Background(), err)
}

// Rollback rolls back, inside the lease guard.
func (t *trackedTx) Rollback() error {
	if err := t.lease.enter(nil); err != nil {
		return err
	}
	defer t.lease.exit()
	t.finish()
	err := t.raw.Rollback()
	return t.lease.note(context.Background(), err)
}

func (t *trackedTx) finish() {
	if t.lease.tx == t {
		t.lease.tx = nil
	}
}
