package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// rows is pgx.Rows read inside the lease guard. Each call is one guarded
// operation, so that between them the lease is free (Release can run) and
// after Release nothing reaches the connection: the values and field
// descriptions pgx returns live in the connection's buffers, which the next
// user of the connection overwrites.
//
// The guard refusal, if any, is kept as the rows' error; reading stops.
type rows struct {
	lease  *Lease
	ctx    context.Context
	raw    pgx.Rows
	err    error
	closed bool
	// onClose, when set, runs once the rows are closed (by Close, or by
	// Next returning false): the Pool's Query releases its lease with it.
	onClose func()
}

var _ pgx.Rows = (*rows)(nil)

// newRows wraps raw, the Rows pgx returned with err. pgx returns an error
// only with Rows it has closed, holding that error, and its idiom leaves
// the error to them (rows, _ := conn.Query(...); pgx.CollectRows(rows,
// ...)). Such rows are closed from the start: nothing of them needs the
// connection, so none of their calls asks the lease guard, which would
// refuse once the lease is released (the Pool's Query releases it at once
// when the query fails) and put manager.ErrLeaseReleased in place of the
// query's error.
func newRows(l *Lease, ctx context.Context, raw pgx.Rows, err error) *rows {
	return &rows{lease: l, ctx: ctx, raw: raw, closed: err != nil}
}

// Next advances to the next row; see pgx.Rows.Next. When it returns false
// the rows are closed, as pgx's are.
func (r *rows) Next() bool {
	if r.closed {
		return false
	}
	more := false
	ran := false
	err := r.lease.guarded(r.ctx, func() error {
		ran = true
		more = r.raw.Next()
		if !more {
			return r.raw.Err() // so that the lease notes a broken connection
		}
		return nil
	})
	if !ran {
		r.err = err
	}
	if !more {
		r.finish()
	}
	return more
}

// Scan reads the current row; see pgx.Rows.Scan.
func (r *rows) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	return r.lease.guarded(r.ctx, func() error { return r.raw.Scan(dest...) })
}

// Values decodes the current row; see pgx.Rows.Values.
func (r *rows) Values() (v []any, err error) {
	if r.err != nil {
		return nil, r.err
	}
	err = r.lease.guarded(r.ctx, func() error {
		v, err = r.raw.Values()
		return err
	})
	return v, err
}

// RawValues returns the current row's bytes, valid until the next call on
// the rows; nil once the lease is released.
func (r *rows) RawValues() (v [][]byte) {
	if r.err == nil {
		_ = r.lease.guarded(r.ctx, func() error { v = r.raw.RawValues(); return nil })
	}
	return v
}

// FieldDescriptions describes the columns; nil once the lease is released.
func (r *rows) FieldDescriptions() (fd []pgconn.FieldDescription) {
	if r.err == nil {
		_ = r.lease.guarded(r.ctx, func() error { fd = r.raw.FieldDescriptions(); return nil })
	}
	return fd
}

// TypeMap returns the connection's type map; nil once the lease is released.
func (r *rows) TypeMap() (m *pgtype.Map) {
	if r.err == nil {
		_ = r.lease.guarded(r.ctx, func() error { m = r.raw.TypeMap(); return nil })
	}
	return m
}

// Err returns the error that ended the rows: pgx's, or the guard's refusal.
func (r *rows) Err() error {
	if r.err != nil {
		return r.err
	}
	return r.raw.Err()
}

// CommandTag returns the command tag, known once the rows are closed.
func (r *rows) CommandTag() pgconn.CommandTag { return r.raw.CommandTag() }

// Conn returns the lease's pgx connection (nil once released); see
// Lease.Conn.
func (r *rows) Conn() *pgx.Conn { return r.lease.Conn() }

// Close closes the rows, reading what is left of the result inside the
// guard; once the lease is released it only runs onClose.
func (r *rows) Close() {
	if r.closed {
		return
	}
	if r.err == nil {
		ran := false
		err := r.lease.guarded(r.ctx, func() error { ran = true; r.raw.Close(); return r.raw.Err() })
		if !ran {
			r.err = err // refused: the connection is closed rather than these rows
		}
	}
	r.finish()
}

// finish marks the rows closed and runs onClose, once.
func (r *rows) finish() {
	r.closed = true
	if f := r.onClose; f != nil {
		r.onClose = nil
		f()
	}
}

// row is pgx.Row scanned inside the lease guard.
type row struct {
	lease *Lease
	ctx   context.Context
	raw   pgx.Row
	err   error
	// onScan, when set, runs after the first Scan: the Pool's QueryRow
	// releases its lease with it.
	onScan func()
}

// Scan reads the row's one result into dest; see pgx.Row.
func (r *row) Scan(dest ...any) error {
	defer func() {
		if f := r.onScan; f != nil {
			r.onScan = nil
			f()
		}
	}()
	if r.err != nil {
		return r.err
	}
	return r.lease.guarded(r.ctx, func() error { return r.raw.Scan(dest...) })
}

// errRows is the Rows of a query that never ran (no lease, or refused).
type errRows struct{ err error }

var _ pgx.Rows = errRows{}

func (e errRows) Close()                                       {}
func (e errRows) Err() error                                   { return e.err }
func (e errRows) CommandTag() pgconn.CommandTag                { return pgconn.CommandTag{} }
func (e errRows) FieldDescriptions() []pgconn.FieldDescription { return nil }
func (e errRows) Next() bool                                   { return false }
func (e errRows) Scan(...any) error                            { return e.err }
func (e errRows) Values() ([]any, error)                       { return nil, e.err }
func (e errRows) RawValues() [][]byte                          { return nil }
func (e errRows) Conn() *pgx.Conn                              { return nil }
func (e errRows) TypeMap() *pgtype.Map                         { return nil }

// errRow is the Row of a query that never ran.
type errRow struct{ err error }

func (e errRow) Scan(...any) error { return e.err }
