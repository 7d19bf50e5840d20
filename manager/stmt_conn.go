package manager

import (
	"context"
	"database/sql/driver"
)

// StatementCacher is implemented by a Dialer whose connections keep their
// own cache of prepared statements, per physical connection and keyed by
// query text, for the queries they run through QueryerContext and
// ExecerContext: pgx in its default QueryExecModeCacheStatement, where the
// first run of a query text on a connection prepares it and later runs
// reuse it. drivers/postgres's Dialer is one.
//
// For such a Dialer, PrepareContext on a leased connection (and so every
// *sql.Stmt of the facade) prepares nothing itself: the statement it
// returns runs its query text through the connection, and the driver's
// cache does the preparing, once per physical connection. A *sql.Stmt
// prepared on the facade's *sql.DB is prepared again by database/sql on
// every connection it picks, which the facade changes with every call;
// without this each of those calls paid a Parse round trip, and a
// Deallocate round trip when database/sql closed the statement.
type StatementCacher interface {
	// CachesStatements reports whether the connections cache statements.
	CachesStatements() bool
}

// cachesStatements reports whether PrepareContext should defer to the
// driver connection's own statement cache.
func (l *Lease) cachesStatements() bool {
	c, ok := l.m.dialer.(StatementCacher)
	if !ok || !c.CachesStatements() {
		return false
	}
	_, q := l.raw.(driver.QueryerContext)
	_, e := l.raw.(driver.ExecerContext)
	return q && e
}

// connStmt is a statement that runs its query text through the driver
// connection's QueryerContext and ExecerContext, whose statement cache
// prepares it. It holds no server-side object of its own, so closing it is
// free. It is always used through the guarded stmt wrapper.
type connStmt struct {
	conn  driver.Conn
	query string
}

var (
	_ driver.StmtExecContext   = (*connStmt)(nil)
	_ driver.StmtQueryContext  = (*connStmt)(nil)
	_ driver.NamedValueChecker = (*connStmt)(nil)
)

// Close does nothing: the statement lives in the connection's cache, and
// goes when the connection closes.
func (*connStmt) Close() error { return nil }

// NumInput answers -1, "not known": the driver checks the arguments.
func (*connStmt) NumInput() int { return -1 }

// CheckNamedValue asks the connection, as database/sql would for a query
// run on it directly, or answers driver.ErrSkip for the default conversion.
func (s *connStmt) CheckNamedValue(nv *driver.NamedValue) error {
	if c, ok := s.conn.(driver.NamedValueChecker); ok {
		return c.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// ExecContext runs the query through the connection.
func (s *connStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.conn.(driver.ExecerContext).ExecContext(ctx, s.query, args)
}

// QueryContext runs the query through the connection.
func (s *connStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.conn.(driver.QueryerContext).QueryContext(ctx, s.query, args)
}

// Exec runs the query without a ctx.
//
// Deprecated: database/sql calls ExecContext.
func (s *connStmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), namedValues(args))
}

// Query runs the query without a ctx.
//
// Deprecated: database/sql calls QueryContext.
func (s *connStmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), namedValues(args))
}

// namedValues numbers positional values as database/sql does.
func namedValues(args []driver.Value) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	for i, v := range args {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return out
}
