package manager

import (
	"context"
	"database/sql/driver"
	"errors"
)

// stmt wraps a prepared statement so that every call on it passes the lease
// guard, and its errors reach the lease, like the connection's own: drivers without QueryerContext (go-mssqldb) run every
// database/sql query through a statement, and a statement cut short by its
// ctx must break the connection. It implements the optional statement
// interfaces and, where the driver's statement lacks one, does what
// database/sql would have done without it.
type stmt struct {
	raw    driver.Stmt
	lease  *Lease
	closed bool
}

// stmtWithConverter is a stmt whose driver statement has the deprecated
// ColumnConverter, which changes database/sql's argument conversion, so the
// wrapper may offer it only then.
type stmtWithConverter struct{ *stmt }

var (
	_ driver.Stmt              = (*stmt)(nil)
	_ driver.StmtExecContext   = (*stmt)(nil)
	_ driver.StmtQueryContext  = (*stmt)(nil)
	_ driver.NamedValueChecker = (*stmt)(nil)
)

func (l *Lease) wrapStmt(raw driver.Stmt) driver.Stmt {
	s := new(stmt)
	return l.guardStmt(s, raw)
}

// guardStmt makes s the guarded form of raw, prepared on l, and returns it
// as database/sql should see it. A shellStmt keeps its s in place, so that
// preparing on each lease allocates no wrapper.
func (l *Lease) guardStmt(s *stmt, raw driver.Stmt) driver.Stmt {
	l.stmts++
	*s = stmt{raw: raw, lease: l}
	//lint:ignore SA1019 forwarded only for drivers that still implement it
	if _, ok := raw.(driver.ColumnConverter); ok {
		return stmtWithConverter{s}
	}
	return s
}

// Close closes the driver's statement, inside the lease guard: once the
// lease has ended the connection is no longer the caller's, and Release or
// the pool's close has dealt with it.
func (s *stmt) Close() error {
	if err := s.lease.enter(); err != nil {
		return err
	}
	defer s.lease.exit()
	if !s.closed {
		s.closed = true
		s.lease.stmts--
	}
	return s.raw.Close()
}

// NumInput forwards; it reads the statement in memory only.
func (s *stmt) NumInput() int { return s.raw.NumInput() }

// Exec runs the statement without a ctx.
//
// Deprecated: database/sql calls ExecContext.
func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	if err := s.lease.enter(); err != nil {
		return nil, err
	}
	defer s.lease.exit()
	r, err := s.raw.Exec(args)
	return r, s.lease.note(context.Background(), err)
}

// Query runs the statement without a ctx.
//
// Deprecated: database/sql calls QueryContext.
func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	if err := s.lease.enter(); err != nil {
		return nil, err
	}
	defer s.lease.exit()
	r, err := s.raw.Query(args)
	if err != nil {
		return nil, s.lease.note(context.Background(), err)
	}
	return s.lease.wrapRows(r, nil, nil), nil
}

// ExecContext runs the statement inside the lease guard, which refuses a
// ctx of another identity: a *sql.Stmt prepared on one identity's *sql.Conn
// and executed with another's ctx never runs as the first.
func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.execContext(ctx, args, false)
}

// execContext is ExecContext; convert: CheckNamedValue left the arguments
// to the call (a shellStmt's), which converts them once the guard has
// admitted its ctx.
func (s *stmt) execContext(ctx context.Context, args []driver.NamedValue, convert bool) (driver.Result, error) {
	if err := s.lease.enterAs(ctx); err != nil {
		return nil, err
	}
	defer s.lease.exit()
	if convert {
		var err error
		if args, err = s.convertArgs(args); err != nil {
			return nil, err
		}
	}
	s.lease.touched(ctx)
	if e, ok := s.raw.(driver.StmtExecContext); ok {
		w := s.lease.watchCall(ctx)
		defer w.Stop()
		r, err := e.ExecContext(ctx, args)
		return r, s.lease.note(ctx, err)
	}
	values, err := plainValues(args)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	//lint:ignore SA1019 what database/sql does for such statements
	r, err := s.raw.Exec(values)
	return r, s.lease.note(ctx, err)
}

// QueryContext runs the statement inside the lease guard; see ExecContext.
func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.queryContext(ctx, args, false)
}

// queryContext is QueryContext; convert as for execContext.
func (s *stmt) queryContext(ctx context.Context, args []driver.NamedValue, convert bool) (driver.Rows, error) {
	if err := s.lease.enterAs(ctx); err != nil {
		return nil, err
	}
	defer s.lease.exit()
	if convert {
		var err error
		if args, err = s.convertArgs(args); err != nil {
			return nil, err
		}
	}
	s.lease.touched(ctx)
	var r driver.Rows
	var err error
	calls := s.lease.trackCalls(ctx)
	handed := false
	defer func() {
		if !handed {
			calls.Stop()
		}
	}()
	if q, ok := s.raw.(driver.StmtQueryContext); ok {
		own, in := s.lease.enterCalls(calls, ctx)
		defer leaveCalls(calls, own, in)
		r, err = q.QueryContext(ctx, args)
	} else {
		values, verr := plainValues(args)
		if verr != nil {
			return nil, verr
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		//lint:ignore SA1019 what database/sql does for such statements
		r, err = s.raw.Query(values)
	}
	if err != nil {
		return nil, s.lease.note(ctx, err)
	}
	handed = true
	return s.lease.wrapRows(r, ctx, calls), nil
}

// CheckNamedValue asks the driver's statement, or else the driver's
// connection, as database/sql does for the bare driver: it takes a
// statement's checker when there is one and the connection's otherwise.
// Without the connection's, database/sql would see only this wrapper's
// answer and convert with its default, which refuses what a driver accepts
// on its connection alone (go-mssqldb: sql.Out output parameters,
// mssql.DateTimeOffset, civil dates, TVPs) and sends what it would have
// removed (*mssql.ReturnStatus).
//
// It runs inside the lease guard: go-mssqldb's checker records output
// parameters on its connection, which after Release may serve another
// lease.
func (s *stmt) CheckNamedValue(nv *driver.NamedValue) error {
	if err := s.lease.enter(); err != nil {
		return err
	}
	defer s.lease.exit()
	return (*stmtInGuard)(s).CheckNamedValue(nv)
}

// stmtInGuard is a stmt seen from inside its lease guard: its
// CheckNamedValue asks the driver's checker (the statement's, else the
// connection's) without entering the guard again.
type stmtInGuard stmt

// CheckNamedValue is stmt.CheckNamedValue, inside the guard.
func (s *stmtInGuard) CheckNamedValue(nv *driver.NamedValue) error {
	if c, ok := s.raw.(driver.NamedValueChecker); ok {
		return c.CheckNamedValue(nv)
	}
	if c, ok := s.lease.raw.(driver.NamedValueChecker); ok {
		return c.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// convertArgs converts, inside the guard, arguments CheckNamedValue left to
// the call, as database/sql would have on the statement (see conn_args.go).
func (s *stmt) convertArgs(args []driver.NamedValue) ([]driver.NamedValue, error) {
	//lint:ignore SA1019 database/sql's conversion consults it, so this does
	cci, _ := s.raw.(driver.ColumnConverter)
	return s.lease.convertArgs((*stmtInGuard)(s), cci, s.raw.NumInput(), args)
}

// ColumnConverter forwards the driver statement's converter.
func (s stmtWithConverter) ColumnConverter(idx int) driver.ValueConverter {
	//lint:ignore SA1019 forwarded only for drivers that still implement it
	return s.raw.(driver.ColumnConverter).ColumnConverter(idx)
}

// plainValues is database/sql's conversion for statements without the
// context methods: positional values only.
func plainValues(named []driver.NamedValue) ([]driver.Value, error) {
	out := make([]driver.Value, len(named))
	for i, nv := range named {
		if nv.Name != "" {
			return nil, errors.New("idpool: driver does not support the use of Named Parameters")
		}
		out[i] = nv.Value
	}
	return out, nil
}
