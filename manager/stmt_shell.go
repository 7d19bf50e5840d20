package manager

import (
	"context"
	"database/sql/driver"
)

// shellStmt is what PrepareContext answers on a facade connection (a
// shell): a statement that belongs to the shell, not to whichever lease the
// shell holds. database/sql keeps a statement per driver connection and
// reuses it for every later call on that connection, while the facade binds
// the connection to a new lease (of the call's identity) at each hand-over.
// So the statement is prepared on the lease the shell holds when a call
// runs, and prepared again only when that lease has changed; before a shell
// gives its lease back (Conn.IsValid) its statements close what they
// prepared on it. A statement therefore never pins a lease to a shell that
// database/sql keeps idle (SetMaxIdleConns raised).
//
// Preparing is the driver's: free with a StatementCacher (pgx's cache
// prepares once per physical connection) and client-side with go-mssqldb.
//
// With no identity in the ctx (sqlc's Prepare(ctx, db) at start-up) nothing
// is prepared yet: the first Exec or Query prepares it for its own
// identity, as any first call binds the shell. database/sql serialises the
// calls on a driver connection and on its statements, so a shellStmt needs
// no synchronisation.
type shellStmt struct {
	conn  *Conn
	query string
	// cur is the guarded statement prepared on curLease; nil when none is.
	// It points into guard, and into cs for a StatementCacher, which are
	// reused from lease to lease so that preparing allocates nothing of
	// the facade's own.
	cur      driver.Stmt
	curLease *Lease
	guard    stmt
	cs       connStmt
}

// shellStmtWithConverter is a shellStmt whose first preparation had the
// deprecated ColumnConverter; see stmtWithConverter.
type shellStmtWithConverter struct{ *shellStmt }

var (
	_ driver.StmtExecContext   = (*shellStmt)(nil)
	_ driver.StmtQueryContext  = (*shellStmt)(nil)
	_ driver.NamedValueChecker = (*shellStmt)(nil)
)

// prepareShellStmt returns the shell's statement for query, prepared now
// when ctx names an identity (so that a bad query fails at Prepare, as it
// would without the facade), else at its first use.
func (c *Conn) prepareShellStmt(ctx context.Context, query string) (driver.Stmt, error) {
	s := &shellStmt{conn: c, query: query}
	if _, err := c.shell.identityFor(ctx); err != nil && c.lease == nil {
		// No identity to prepare as: prepare at first use, as long as
		// the Manager is open (and is one: sqlc prepares at start-up).
		if !c.shell.m.started() {
			return nil, ErrNoManager
		}
		if c.shell.m.closed.Load() {
			return nil, ErrClosed
		}
	} else if _, err := s.on(ctx); err != nil {
		return nil, err
	}
	c.shell.stmts = append(c.shell.stmts, s)
	//lint:ignore SA1019 forwarded only for drivers that still implement it
	if _, ok := s.cur.(driver.ColumnConverter); ok {
		return shellStmtWithConverter{s}, nil
	}
	return s, nil
}

// on returns the statement prepared on the lease the call with ctx runs on,
// binding the shell first if it holds none.
func (s *shellStmt) on(ctx context.Context) (driver.Stmt, error) {
	l, err := s.conn.leaseFor(ctx)
	if err != nil {
		return nil, err
	}
	if s.cur != nil && s.curLease == l {
		return s.cur, nil
	}
	s.drop()
	raw, err := l.prepareRaw(ctx, s.query, &s.cs)
	if err != nil {
		return nil, err
	}
	st := l.guardStmt(&s.guard, raw)
	s.cur, s.curLease = st, l
	return st, nil
}

// drop closes what the statement prepared on its current lease, if any.
// The shell calls it before it gives that lease back.
func (s *shellStmt) drop() {
	if s.cur == nil {
		return
	}
	_ = s.cur.Close()
	s.cur, s.curLease = nil, nil
}

// Close closes what is prepared, and forgets the statement.
func (s *shellStmt) Close() error {
	var err error
	if s.cur != nil {
		err = s.cur.Close()
		s.cur, s.curLease = nil, nil
	}
	s.conn.forgetStmt(s)
	return err
}

// NumInput answers -1 ("not known"): database/sql counts the arguments
// before the call, against what NumInput says, after its CheckNamedValue,
// which leaves them to the call (see CheckNamedValue); the call counts them
// as it converts them, after dropping those the driver removes
// (*mssql.ReturnStatus). A call with no arguments, which database/sql
// never hands to CheckNamedValue, is counted all the same (ExecContext,
// QueryContext): database/sql refuses it with "sql: expected 1 arguments,
// got 0" before the driver sees it, and so does the facade.
func (s *shellStmt) NumInput() int { return -1 }

// CheckNamedValue accepts the value as it is, and the call converts it on
// the statement it runs, inside the lease guard once the call's identity
// has passed it (see conn_args.go). database/sql checks the arguments
// before the call, with no ctx: before the call that binds the shell and
// prepares the statement on that lease (see on), and before the guard
// refuses a call whose ctx names another identity than the lease's. A
// driver's checker may keep state on its connection for the query that
// follows (go-mssqldb keeps output parameters, *mssql.ReturnStatus and a
// sqlexp.ReturnMessage queue): checked then, a refused call of bob's on
// alice's statement left his variables on her connection, and her next
// query wrote its results into them.
func (s *shellStmt) CheckNamedValue(*driver.NamedValue) error {
	s.conn.deferArgs()
	return nil
}

// ExecContext runs on the statement prepared for the call's lease.
func (s *shellStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	convert := s.conn.takeDeferredArgs() || len(args) == 0
	if _, err := s.on(ctx); err != nil {
		return nil, err
	}
	return s.guard.execContext(ctx, args, convert)
}

// QueryContext runs on the statement prepared for the call's lease.
func (s *shellStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	convert := s.conn.takeDeferredArgs() || len(args) == 0
	if _, err := s.on(ctx); err != nil {
		return nil, err
	}
	return s.guard.queryContext(ctx, args, convert)
}

// Exec runs without a ctx, so with the default identity or none.
//
// Deprecated: database/sql calls ExecContext.
func (s *shellStmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), namedValues(args))
}

// Query runs without a ctx, so with the default identity or none.
//
// Deprecated: database/sql calls QueryContext.
func (s *shellStmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), namedValues(args))
}

// ColumnConverter forwards the prepared statement's converter.
func (s shellStmtWithConverter) ColumnConverter(idx int) driver.ValueConverter {
	//lint:ignore SA1019 forwarded only for drivers that still implement it
	if c, ok := s.cur.(driver.ColumnConverter); ok {
		return c.ColumnConverter(idx)
	}
	return driver.DefaultParameterConverter
}

// forgetStmt removes a closed statement from the shell's list.
func (c *Conn) forgetStmt(s *shellStmt) {
	stmts := c.shell.stmts
	for i, x := range stmts {
		if x == s {
			last := len(stmts) - 1
			stmts[i], stmts[last] = stmts[last], nil
			c.shell.stmts = stmts[:last]
			return
		}
	}
}
