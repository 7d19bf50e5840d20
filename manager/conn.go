package manager

import (
	"context"
	"database/sql/driver"
	"errors"
	"sync/atomic"

	"github.com/idpool/idpool/tokens"
)

// Conn is a leased connection as a database/sql/driver connection. It
// implements every optional interface database/sql looks for and forwards
// each to the driver's connection when that has it; when it does not, Conn
// does what database/sql would have done without the interface, so wrapping
// never changes behaviour. Its Close releases the lease.
//
// A zero Conn, and a zero Lease's, answers as a released lease's (see
// Lease).
//
// The facade's connections are shells (see Connector.Connect): database/sql
// may hold one before it knows whose it is, and its lease is bound at the
// first call that carries an identity, or rebound at a hand-over.
type Conn struct {
	lease *Lease
	// shell is what a facade connection has beyond a lease: its Connector
	// and statements; nil for Lease.Conn. It sits behind a pointer so that
	// Lease, which embeds a Conn, stays in its size class.
	shell *shell
	// fresh: bound to the default identity by a Connect whose ctx carried
	// none, and not used since (see leaseFor).
	fresh bool
	// closed: database/sql closed the connection. A shell whose lease went
	// back when database/sql took it (IsValid) must then never bind again:
	// a careless caller that kept the driver connection would acquire a
	// lease nobody releases.
	closed atomic.Bool
}

// shell is a facade connection's own part: the Connector that made it and
// the statements database/sql prepared on it and has not closed (see
// shellStmt).
type shell struct {
	*Connector
	stmts []*shellStmt
	// firstStmt backs stmts until a second statement is open: most
	// database/sql calls on a driver that prepares every query (go-mssqldb)
	// hold one at a time, and a shell lives for one call by default.
	firstStmt [1]*shellStmt
	// bindErr is the error of a bind at a hand-over (ResetSession), which
	// the call that got the shell returns as its own; see bindAtHandover.
	bindErr error
	// argsUnchecked: CheckNamedValue left the running call's arguments
	// for the call to convert on its lease; see conn_args.go.
	argsUnchecked bool
	// parked: the shell gave its lease back when database/sql took it
	// (IsValid) and database/sql has not handed it to a call since
	// (ResetSession). A careless caller that kept the driver connection
	// past its *sql.Conn gets ErrLeaseReleased instead of a new lease.
	parked atomic.Bool
	// served: the shell was connected for a call (Connect's ctx carried an
	// identity), or database/sql has made a call on it or handed it over
	// (ResetSession) since; see IsValid.
	served atomic.Bool
}

// serve records that database/sql made a call on the connection; see
// IsValid.
func (c *Conn) serve() {
	if s := c.shell; s != nil && !s.served.Load() {
		s.served.Store(true)
	}
}

// facadeConn is a facade connection and its shell, allocated together.
type facadeConn struct {
	conn  Conn
	shell shell
}

// newShell returns a facade connection of c that holds no lease yet.
func newShell(c *Connector) *Conn {
	f := &facadeConn{shell: shell{Connector: c}}
	f.shell.stmts = f.shell.firstStmt[:0]
	f.conn.shell = &f.shell
	return &f.conn
}

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

// Lease returns the lease behind the connection; nil for a facade
// connection not yet bound to one.
func (c *Conn) Lease() *Lease { return c.lease }

// leaseFor returns the lease a call with ctx runs on. A facade shell not yet
// bound acquires one now, for the ctx's identity (or the default one). A
// shell bound to the default identity by a Connect whose ctx carried none,
// and not used since, is rebound when its first call carries another
// identity: database/sql's connection opener connects with a ctx of its own
// and hands the connection to whichever call waits. database/sql serialises
// the calls on a connection, so the binding needs no synchronisation.
func (c *Conn) leaseFor(ctx context.Context) (*Lease, error) {
	if l := c.lease; l != nil {
		if !c.fresh {
			return l, nil
		}
		c.fresh = false
		id, ok := tokens.IdentityFrom(ctx)
		if !ok {
			return l, nil
		}
		if disc, err := l.m.lookupKey(ctx, id); err != nil || disc == l.acquire.Discriminator {
			return l, err
		}
		c.lease = nil
		l.Release(nil)
	}
	if c.closed.Load() || c.shell == nil {
		// No shell: a zero Conn, a zero Lease's (see Lease).
		return nil, ErrLeaseReleased
	}
	if c.shell.parked.Load() {
		return nil, errShellParked
	}
	if err := c.shell.bindErr; err != nil {
		c.shell.bindErr = nil
		return nil, err
	}
	id, err := c.shell.identityFor(ctx)
	if err != nil {
		return nil, err
	}
	l, err := c.shell.m.Acquire(ctx, id)
	if err != nil {
		return nil, err
	}
	l.facade = c.shell.Connector
	c.lease = l
	return l, nil
}

// Prepare forwards to the driver.
func (c *Conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// PrepareContext forwards to the driver's PrepareContext, or Prepare, unless
// the Dialer is a StatementCacher: then the statement runs its query through
// the connection, whose own cache prepares it once per physical connection.
// The statement stays bound to the lease: it runs only while the lease is
// held, and only for callers of the lease's identity.
//
// On a facade connection the statement belongs to the connection instead,
// and is prepared on whichever lease the connection holds when it runs (see
// shellStmt); a ctx with no identity (and no default identity) prepares
// nothing yet: the statement is prepared at its first Exec or Query, for
// that call's identity (see OpenDB).
func (c *Conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	c.serve()
	if c.shell != nil {
		return c.prepareShellStmt(ctx, query)
	}
	return c.prepareOnLease(ctx, c.lease, query)
}

// prepareOnLease prepares query on l's connection, inside the guard, for a
// caller of l's identity; the statement is guarded (see stmt).
func (c *Conn) prepareOnLease(ctx context.Context, l *Lease, query string) (driver.Stmt, error) {
	raw, err := l.prepareRaw(ctx, query, nil)
	if err != nil {
		return nil, err
	}
	return l.wrapStmt(raw), nil
}

// prepareRaw prepares query on l's connection, inside the guard, for a
// caller of l's identity, and returns the driver's statement, not yet
// guarded. When the Dialer is a StatementCacher the statement is a connStmt:
// into, if not nil, else a new one.
func (l *Lease) prepareRaw(ctx context.Context, query string, into *connStmt) (driver.Stmt, error) {
	if err := l.enterAs(ctx); err != nil {
		return nil, err
	}
	defer l.exit()
	l.touched(ctx)
	if l.cachesStatements() {
		// The driver's own cache prepares it, once per physical
		// connection; see StatementCacher.
		if into == nil {
			into = new(connStmt)
		}
		*into = connStmt{conn: l.raw, query: query}
		return into, nil
	}
	var s driver.Stmt
	var err error
	if p, ok := l.raw.(driver.ConnPrepareContext); ok {
		w := l.watchCall(ctx)
		defer w.Stop()
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
	return s, nil
}

// Close releases the lease; see Lease.Close.
func (c *Conn) Close() error {
	c.closed.Store(true)
	if c.lease == nil {
		return nil
	}
	return c.lease.Close()
}

// Begin starts a transaction with default options.
//
// Deprecated: use BeginTx, as database/sql does.
func (c *Conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

// BeginTx starts a transaction, tracked so that Release rolls it back if the
// caller never finishes it.
func (c *Conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	c.serve()
	l, err := c.leaseFor(ctx)
	if err != nil {
		return nil, err
	}
	if err := l.enterAs(ctx); err != nil {
		return nil, err
	}
	defer l.exit()
	var tx driver.Tx
	l.touched(ctx)
	if b, ok := l.raw.(driver.ConnBeginTx); ok {
		w := l.watchCall(ctx)
		defer w.Stop()
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
	t := &trackedTx{raw: tx, lease: l, ctx: ctx}
	l.tx = t
	return t, nil
}

// QueryContext forwards to the driver, or returns driver.ErrSkip so that
// database/sql prepares the statement, as it would for the bare driver.
func (c *Conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	c.serve()
	unconverted := c.takeDeferredArgs()
	l, err := c.leaseFor(ctx)
	if err != nil {
		return nil, err
	}
	q, ok := l.raw.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	if err := l.enterAs(ctx); err != nil {
		return nil, err
	}
	defer l.exit()
	if unconverted {
		nvc, _ := l.raw.(driver.NamedValueChecker)
		if args, err = l.convertArgs(nvc, nil, -1, args); err != nil {
			return nil, err
		}
	}
	l.touched(ctx)
	calls := l.trackCalls(ctx)
	handed := false
	defer func() {
		if !handed {
			calls.Stop()
		}
	}()
	own, in := l.enterCalls(calls, ctx)
	defer leaveCalls(calls, own, in)
	rows, err := q.QueryContext(ctx, query, args)
	if err != nil {
		return nil, l.note(ctx, err)
	}
	handed = true
	return l.wrapRows(rows, ctx, calls), nil
}

// ExecContext forwards to the driver, or returns driver.ErrSkip.
func (c *Conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	c.serve()
	unconverted := c.takeDeferredArgs()
	l, err := c.leaseFor(ctx)
	if err != nil {
		return nil, err
	}
	e, ok := l.raw.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	if err := l.enterAs(ctx); err != nil {
		return nil, err
	}
	defer l.exit()
	if unconverted {
		nvc, _ := l.raw.(driver.NamedValueChecker)
		if args, err = l.convertArgs(nvc, nil, -1, args); err != nil {
			return nil, err
		}
	}
	l.touched(ctx)
	w := l.watchCall(ctx)
	defer w.Stop()
	res, err := e.ExecContext(ctx, query, args)
	return res, l.note(ctx, err)
}

// CheckNamedValue forwards to the driver, or returns driver.ErrSkip, which
// makes database/sql apply its default conversion. It never reaches the
// server, but it runs inside the lease guard all the same: go-mssqldb's
// checker records output parameters and return status on its connection,
// which after Release may serve another lease.
//
// A facade connection (a shell) accepts the value as it is: the call
// converts it on its lease, once the guard has admitted the call's ctx (see
// conn_args.go). database/sql checks a call's arguments before the call,
// with no ctx: before the call binds the shell or changes its lease, and
// before the guard refuses a ctx of another identity than the lease's
// (a *sql.Conn or *sql.Tx of alice's used with bob's ctx), whose
// arguments must never reach her connection's checker.
func (c *Conn) CheckNamedValue(nv *driver.NamedValue) error {
	c.serve()
	l := c.lease
	if c.shell != nil {
		c.deferArgs()
		return nil
	}
	if err := l.enter(); err != nil {
		return err
	}
	defer l.exit()
	if n, ok := l.raw.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// Ping forwards to the driver; without a Pinger there is nothing to check.
//
// On a facade connection not yet bound to a lease, a Ping whose ctx carries
// no identity (and with no default identity) acquires nothing: it checks
// that the Manager is open and, if the Dialer is a Prober, that the server
// accepts a network connection, without logging in (see OpenDB). That is
// what GORM's automatic ping and sql.DB.Ping need, and it never borrows a
// connection of any identity.
func (c *Conn) Ping(ctx context.Context) error {
	c.serve()
	if c.lease == nil && c.shell != nil {
		if _, err := c.shell.identityFor(ctx); err != nil {
			return c.shell.m.pingWithoutIdentity(ctx)
		}
	}
	l, err := c.leaseFor(ctx)
	if err != nil {
		return err
	}
	if err := l.enterAs(ctx); err != nil {
		return err
	}
	defer l.exit()
	if p, ok := l.raw.(driver.Pinger); ok {
		w := l.watchCall(ctx)
		defer w.Stop()
		err := p.Ping(ctx)
		return l.note(ctx, err)
	}
	return nil
}

// ResetSession is where database/sql hands a connection it kept (an idle
// one, with SetMaxIdleConns raised, or one passed straight to a waiting
// call, with SetMaxOpenConns set) to its next call, with that call's ctx.
// The connection must be the ctx's identity exactly (the default identity
// when the ctx carries none), and its lease still held.
//
// A facade shell that holds no lease (with SetMaxIdleConns raised, the
// usual case: it gave its lease back when database/sql took it, see
// IsValid) is bound here to a lease of
// the ctx's identity (see bindAtHandover). A facade connection still bound
// to another identity with nothing of database/sql's on it (no result set,
// no transaction) gives its lease back (rolled back and reset, to its own
// pool) and is bound the same way. Otherwise ResetSession answers an error
// matching driver.ErrBadConn (and saying why), so that database/sql
// discards the connection and retries on another. Then it forwards to the
// driver.
func (c *Conn) ResetSession(ctx context.Context) error {
	c.serve()
	c.fresh = false // a hand-over is checked here, exactly
	if c.lease == nil {
		if c.shell == nil {
			return errHandoverReleased // a zero Conn (see Lease)
		}
		c.bindAtHandover(ctx)
		return nil
	}
	l := c.lease
	if err := l.enter(); err != nil {
		if errors.Is(err, ErrLeaseReleased) {
			return errHandoverReleased
		}
		return &guardError{msg: err.Error(), is: [2]error{driver.ErrBadConn, err}}
	}
	if l.broken() {
		l.exit()
		return driver.ErrBadConn
	}
	if f := l.facade; f != nil {
		refusal := errHandoverOtherIdentity
		id, err := f.identityFor(ctx)
		if err == nil {
			var disc string
			if disc, err = l.m.lookupKey(ctx, id); err == nil && disc == l.acquire.Discriminator {
				refusal = nil
			}
		} else {
			refusal = errHandoverNoIdentity
		}
		if refusal != nil {
			rebind := c.shell != nil && err == nil && l.tx == nil && l.open == nil
			l.exit()
			if !rebind || !c.unbind(l) {
				return refusal
			}
			c.bindAtHandover(ctx)
			return nil
		}
	}
	defer l.exit()
	if r, ok := l.raw.(driver.SessionResetter); ok {
		err := r.ResetSession(ctx)
		if err == nil {
			l.sessionReset()
		}
		return l.note(ctx, err)
	}
	return nil
}

// bindAtHandover binds a facade shell that database/sql hands to a call (or
// to a *sql.Conn, whose later calls all run on that lease) to a lease of
// the ctx's identity, or the default identity. A ctx with neither leaves it
// unbound: the call binds it, or fails, as a first call on a new shell
// does. A failed acquire is kept and returned by the call as its own error
// (database/sql ignores ResetSession errors that are not driver.ErrBadConn,
// and one that is would make it acquire again, up to three times): so a
// hand-over makes one acquire, bounded by the call's ctx and AcquireTimeout.
func (c *Conn) bindAtHandover(ctx context.Context) {
	c.shell.parked.Store(false)
	c.shell.bindErr = nil
	if _, err := c.shell.identityFor(ctx); err != nil {
		return
	}
	if _, err := c.leaseFor(ctx); err != nil {
		c.shell.bindErr = err
	}
}

// IsValid reports false once the connection is broken or its lease ended,
// so that database/sql never keeps it; otherwise it asks the driver.
//
// database/sql calls it when a connection comes back to it, to keep idle
// (SetMaxIdleConns raised) or to hand to a waiting call (SetMaxOpenConns).
// A facade connection with nothing of database/sql's on it (no result set,
// no transaction) then gives its lease back (its statements close what they
// prepared on it first; see shellStmt) and stays a shell, bound again when
// database/sql hands it to a call (ResetSession): a connection
// database/sql keeps idle must not hold a lease, or the callers of that
// identity would wait on their pool (MaxSize) for connections that sit
// unused in database/sql's free list. Until that hand-over the shell is
// parked: a call on it fails with an error matching driver.ErrBadConn and
// ErrLeaseReleased.
//
// A facade connection that database/sql's connection opener made and that
// has served no call reports false: database/sql puts one back only when
// the call that waited for it gave up (its ctx ended as the opener handed
// it over), and then without marking it for a reset (putConn(dc, err,
// false)), so the next call that takes it gets it without ResetSession.
// Parked, it refused that call as a kept handle's (errShellParked):
// database/sql retries a db-level call on another connection, but never a
// *sql.Conn's, whose first call failed. Discarded, it costs a shell.
func (c *Conn) IsValid() bool {
	if c.shell != nil && !c.shell.served.Load() {
		return false
	}
	l := c.lease
	if l == nil {
		if c.shell == nil {
			return false // a zero Conn (see Lease)
		}
		// A shell that holds no lease: nothing to check, and nothing
		// may bind it until database/sql hands it over again.
		c.shell.parked.Store(true)
		return true
	}
	if err := l.enter(); err != nil {
		return false
	}
	if l.broken() {
		l.exit()
		return false
	}
	if v, ok := l.raw.(driver.Validator); ok && !driverValid(l, v) {
		l.exit()
		return false
	}
	idle := c.shell != nil && l.tx == nil && l.open == nil
	l.exit()
	if idle {
		c.unbind(l)
	}
	return true
}

// driverValid asks the driver whether the lease's connection is usable. A
// driver that panics says no and breaks the connection: the panic would
// otherwise unwind past the guard's exit, and the lease, never given back,
// would hold its slot for good (database/sql calls IsValid in the
// caller's goroutine whenever a call gives the connection back).
func driverValid(l *Lease, v driver.Validator) (ok bool) {
	defer func() {
		if recover() != nil {
			l.markBroken()
			ok = false
		}
	}()
	return v.IsValid()
}

// unbind gives a facade shell's lease back, after its statements have
// closed what they prepared on it, and reports whether it did. A statement
// prepared on the lease past the shell (through Conn.Lease().Conn()) and
// not closed keeps it bound.
func (c *Conn) unbind(l *Lease) bool {
	for _, s := range c.shell.stmts {
		s.drop()
	}
	if l.stmts != 0 {
		return false
	}
	c.lease, c.fresh = nil, false
	c.shell.parked.Store(true)
	l.Release(nil)
	return true
}

// trackedTx clears the lease's open transaction when it finishes.
type trackedTx struct {
	raw   driver.Tx
	lease *Lease
	// ctx is BeginTx's: database/sql rolls the transaction back, from a
	// goroutine of its own, once it ends.
	ctx context.Context
}

// Commit commits, inside the lease guard: a transaction whose lease has
// ended is no longer the caller's (Release rolled it back).
func (t *trackedTx) Commit() error {
	if err := t.lease.enter(); err != nil {
		return err
	}
	defer t.lease.exit()
	t.finish()
	// Drivers finish a transaction under BeginTx's ctx (go-mssqldb does).
	w := t.lease.watchCall(t.ctx)
	defer w.Stop()
	err := t.raw.Commit()
	return t.lease.note(context.Background(), err)
}

// Rollback rolls back, inside the lease guard.
func (t *trackedTx) Rollback() error {
	if err := t.lease.enter(); err != nil {
		return err
	}
	defer t.lease.exit()
	t.finish()
	if t.ctx.Err() != nil {
		// The transaction's ctx ended (database/sql's Tx.awaitDone, or a
		// caller rolling back after it): the connection is closed instead,
		// and the server rolls the transaction back as the session ends.
		// Such a lease is broken anyway (its last operation's ctx ended),
		// and go-mssqldb's Rollback leaves its response reader running
		// after it returns, reading a buffer that the Close which follows
		// gives back to go-mssqldb's pool for the next connection
		// (microsoft/go-mssqldb#390; TestMSSQLDirtyCheckout caught it
		// under -race).
		t.lease.markBroken()
		return nil
	}
	w := t.lease.watchCall(t.ctx)
	defer w.Stop()
	err := t.raw.Rollback()
	return t.lease.note(context.Background(), err)
}

func (t *trackedTx) finish() {
	if t.lease.tx == t {
		t.lease.tx = nil
	}
}
