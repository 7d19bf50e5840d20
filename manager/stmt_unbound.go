package manager

import (
	"context"
	"database/sql/driver"

	"github.com/idpool/idpool/tokens"
)

// unboundStmt is what PrepareContext answers on a facade connection not yet
// bound to a lease when the ctx carries no identity (and there is no default
// identity): sqlc's Prepare(ctx, db), for one, prepares every query at start
// up with a ctx that names nobody. It touches no session; its first Exec or
// Query binds the connection for that call's identity, as any first call
// does, and prepares the statement there. database/sql prepares a
// *sql.DB-level statement again on each connection it picks for a caller, so
// with the facade's defaults (no idle connections) an unbound statement is
// closed without ever running.
type unboundStmt struct {
	conn  *Conn
	query string
	bound driver.Stmt // the guarded statement, once prepared
}

var (
	_ driver.StmtExecContext  = (*unboundStmt)(nil)
	_ driver.StmtQueryContext = (*unboundStmt)(nil)
)

// prepared prepares the statement on the connection for ctx's identity at
// its first use.
func (s *unboundStmt) prepared(ctx context.Context) (driver.Stmt, error) {
	if s.bound == nil {
		st, err := s.conn.PrepareContext(ctx, s.query)
		if err != nil {
			return nil, err
		}
		if _, ok := st.(*unboundStmt); ok {
			_ = st.Close()
			return nil, tokens.ErrNoIdentity
		}
		s.bound = st
	}
	return s.bound, nil
}

// Close closes the bound statement, if there is one.
func (s *unboundStmt) Close() error {
	if s.bound == nil {
		return nil
	}
	return s.bound.Close()
}

// NumInput answers -1, "not known": nothing has been prepared yet.
func (s *unboundStmt) NumInput() int { return -1 }

// ExecContext prepares on the call's identity, then runs.
func (s *unboundStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	st, err := s.prepared(ctx)
	if err != nil {
		return nil, err
	}
	return st.(driver.StmtExecContext).ExecContext(ctx, args)
}

// QueryContext prepares on the call's identity, then runs.
func (s *unboundStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	st, err := s.prepared(ctx)
	if err != nil {
		return nil, err
	}
	return st.(driver.StmtQueryContext).QueryContext(ctx, args)
}

// Exec runs without a ctx, so with the default identity or none.
//
// Deprecated: database/sql calls ExecContext.
func (s *unboundStmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), namedValues(args))
}

// Query runs without a ctx, so with the default identity or none.
//
// Deprecated: database/sql calls QueryContext.
func (s *unboundStmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), namedValues(args))
}
