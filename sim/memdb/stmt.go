package memdb

import (
	"context"
	"database/sql/driver"
)

// stmt is a prepared statement: the query, run on its conn when executed.
type stmt struct {
	c     *Conn
	query string
}

var (
	_ driver.Stmt             = (*stmt)(nil)
	_ driver.StmtExecContext  = (*stmt)(nil)
	_ driver.StmtQueryContext = (*stmt)(nil)
)

// Close releases nothing: a prepared statement holds no server state here.
func (s *stmt) Close() error { return nil }

// NumInput is -1: arguments are accepted and ignored.
func (s *stmt) NumInput() int { return -1 }

// Exec runs the statement; prefer ExecContext.
func (s *stmt) Exec([]driver.Value) (driver.Result, error) {
	return s.c.ExecContext(context.Background(), s.query, nil)
}

// Query runs the statement; prefer QueryContext.
func (s *stmt) Query([]driver.Value) (driver.Rows, error) {
	return s.c.QueryContext(context.Background(), s.query, nil)
}

// ExecContext runs the statement on its conn.
func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.c.ExecContext(ctx, s.query, args)
}

// QueryContext runs the statement on its conn.
func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.c.QueryContext(ctx, s.query, args)
}
