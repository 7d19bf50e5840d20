package manager

import (
	"context"
	"database/sql/driver"
	"io"
	"reflect"

	"github.com/idpool/idpool/internal/pastctx"
)

// rows wraps a driver result set so that reading and closing it pass the
// lease guard: after Release, Next fails with ErrLeaseReleased instead of
// reading from a connection that may serve another caller. An open result
// set stays on the lease's list (Lease.open) until Close, so that Release
// closes it, then the connection rather than resetting the session under
// an unfinished result.
//
// Other calls on the lease may run while a result set is open (database/sql
// allows, say, an Exec on a transaction between two Next calls, and the
// driver decides whether its protocol can); only calls at the same moment
// are refused. database/sql serialises every driver call on a connection
// with its own lock, so the facade never sees ErrLeaseBusy.
//
// It implements every optional result-set interface and, where the driver's
// rows lack one, answers what database/sql answers without it.
type rows struct {
	raw    driver.Rows
	lease  *Lease
	closed bool
	// ctx is the query's (nil for a query made without one): a driver
	// reads the rest of the reply in Next, NextResultSet and Close under
	// it, so each of those is bounded as a call made with it, through
	// calls, the query's one registration on ctx (see cancelgrace.go).
	ctx   context.Context
	calls *pastctx.Calls
	// next links the lease's open result sets (Lease.open).
	next *rows
}

var (
	_ driver.RowsNextResultSet              = (*rows)(nil)
	_ driver.RowsColumnTypeScanType         = (*rows)(nil)
	_ driver.RowsColumnTypeDatabaseTypeName = (*rows)(nil)
	_ driver.RowsColumnTypeLength           = (*rows)(nil)
	_ driver.RowsColumnTypeNullable         = (*rows)(nil)
	_ driver.RowsColumnTypePrecisionScale   = (*rows)(nil)
)

// wrapRows guards raw, which a query made with ctx (nil: none) returned;
// calls, which watched the query, watches the result set's calls and is
// stopped when it closes.
func (l *Lease) wrapRows(raw driver.Rows, ctx context.Context, calls *pastctx.Calls) driver.Rows {
	r := &rows{raw: raw, lease: l, ctx: ctx, calls: calls, next: l.open}
	l.open = r
	return r
}

// forget takes r off its lease's open result sets; inside the guard.
func (r *rows) forget() {
	for p := &r.lease.open; *p != nil; p = &(*p).next {
		if *p == r {
			*p = r.next
			return
		}
	}
}

// closeLeftRows closes the result sets the caller left open, before the
// connection goes back to its pool to be closed, as database/sql closes a
// connection's open result sets before it closes the connection. A driver
// may still be reading an unfinished result in the background: go-mssqldb
// does, into a buffer its Conn.Close gives back to a pool shared by every
// connection in the process, so closing the connection under that reader
// let another connection, perhaps another identity's, read into the same
// memory (the race detector showed a new connection's login and an old
// result's reader on one buffer). Closing the result set first ends the
// reader: go-mssqldb's Close drains the reply, cancelling it on the server.
//
// A driver's Close reads the rest of the reply under the query's ctx
// (pgx's and go-mssqldb's do), which may never end (context.Background()):
// against a server that stopped answering mid-reply it would hold Release,
// and the lease's slot, for good. Release ends what the caller left unread
// as a ctx's end would: the Closes are bounded by one watch begun now (see
// watchLeft), so one bound, counted from Release, holds for every result
// set left open, whatever its query's ctx; the watch on that ctx ends at
// Release. Either way the connection is then closed, never reused. A
// driver that panics there has the connection closed anyway: the panic
// goes no further than the result set.
//
// A driver that ends its calls at their ctx by itself (CtxBounded: pgx)
// runs no reader of its own that the connection's Close could pull memory
// from under, so nothing needs the rest of the reply, which Close would
// read only to throw it away, for as long as CancelGrace on a healthy
// server sending a long one: its transport is cut first, and each Close
// fails at once.
func (l *Lease) closeLeftRows() {
	var w *pastctx.Calls
	if ab := l.m.aborter; ab != nil && !l.m.watchCalls {
		l.markCut()
		l.abort(ab)
	} else {
		w = l.watchLeft(leftRows)
	}
	for r := l.open; r != nil; r = r.next {
		r.closeLeft()
	}
	l.open = nil
	w.Stop() // waits for a cut under way: none reaches the connection once it is handed back
}

// What Release ends that the caller left open, for watchLeft: each has its
// own log line (docs/OPERATIONS.md).
const (
	leftRows = "idpool: closing a result set left open at Release took CancelGrace; cutting its connection"
	leftTx   = "idpool: rolling back a transaction left open at Release took CancelGrace; cutting its connection"
)

// watchLeft starts the bound on a wait Release makes for what the caller
// left open: the Close of its result sets (closeLeftRows) or the rollback
// of its transaction (rollbackLeft). The driver waits there under the
// query's ctx or the transaction's, which may never end, and the caller
// has given up on that work by releasing the lease: so, as if that ctx had
// ended now, CancelGrace from now, whatever it is, the Dialer cuts the
// transport, the wait fails at once, and the connection is closed, never
// reused. what is the line logged then (leftRows or leftTx). Nil without
// an Aborter or with CancelGrace off (then the wait takes as long as the
// driver's, as database/sql's would); the caller stops it (nil-safe)
// before the connection is handed back, and a Stop that reports a cut
// means the connection must be closed.
func (l *Lease) watchLeft(what string) *pastctx.Calls {
	ab := l.m.aborter
	if ab == nil {
		return nil
	}
	return pastctx.StartEnded(l.m.cfg.CancelGrace, l.m.armTimer, func() func() { return l.cutLeft(ab, what) })
}

// cutLeft is watchLeft's cut, for a wait that outlived its grace: it marks
// the lease cut, has the Dialer cut the transport, and returns its lines
// (what, and the Dialer's panic if any) to log once the cut counts as done
// (as cut does: Release waits for the cut, not for the Logger's handler).
func (l *Lease) cutLeft(ab Aborter, what string) (then func()) {
	l.markCut()
	return l.cutLines(l.tryAbort(ab), what)
}

// abandonLeftRows leaves the result sets left open to a forced Close that
// has begun: the connection is closed without them, since the forced Close
// bounds its wait and their Close may take as long as their query's ctx
// allows. So that a reader the driver still runs for them (go-mssqldb's)
// fails its next read instead of reading into a buffer the driver's Close
// hands on, the transport is cut first, with an Aborter, whichever close
// comes first: the pool's for this hand-back, as for any release while it
// closes, or the forced one, which cuts too. Their watches end here.
func (l *Lease) abandonLeftRows() {
	for r := l.open; r != nil; r = r.next {
		r.calls.Stop()
	}
	l.open = nil
	if ab := l.m.aborter; ab != nil {
		l.abort(ab)
	}
}

// closeLeft closes a result set left open at Release. The watch on its
// query's ctx ends first: closeLeftRows' bounds the Close, from Release.
func (r *rows) closeLeft() {
	defer func() { _ = recover() }()
	r.calls.Stop()
	_ = r.raw.Close()
}

// Columns forwards; the names are in memory.
func (r *rows) Columns() []string { return r.raw.Columns() }

// Next reads the next row inside the lease guard.
func (r *rows) Next(dest []driver.Value) error {
	if err := r.lease.enter(); err != nil {
		return err
	}
	defer r.lease.exit()
	own, in := r.lease.enterCalls(r.calls, r.ctx)
	defer leaveCalls(r.calls, own, in)
	err := r.raw.Next(dest)
	if err != io.EOF {
		err = r.lease.note(context.Background(), err)
	}
	return err
}

// Close closes the result set inside the lease guard, once.
func (r *rows) Close() error {
	if r.closed {
		return nil
	}
	if err := r.lease.enterToClose(); err != nil {
		if err != ErrLeaseBusy {
			// Its lease is over, or closed by force: the watch on its
			// query's ctx goes now, not when the ctx ends.
			r.calls.Stop()
		}
		return err
	}
	defer r.lease.exit()
	defer r.calls.Stop()
	own, in := r.lease.enterCalls(r.calls, r.ctx)
	defer leaveCalls(r.calls, own, in)
	r.closed = true
	r.forget()
	return r.lease.note(context.Background(), r.raw.Close())
}

// HasNextResultSet forwards, inside the guard.
func (r *rows) HasNextResultSet() bool {
	n, ok := r.raw.(driver.RowsNextResultSet)
	if !ok || r.lease.enter() != nil {
		return false
	}
	defer r.lease.exit()
	return n.HasNextResultSet()
}

// NextResultSet forwards, inside the guard; without it there is none.
// io.EOF is the driver saying there is no further result set (go-mssqldb
// says so for one Next has not reached yet, and at the end of each query
// read through its sqlexp message loop), not a connection gone: noted
// as an error, it closed the connection of every such query.
func (r *rows) NextResultSet() error {
	n, ok := r.raw.(driver.RowsNextResultSet)
	if !ok {
		return io.EOF
	}
	if err := r.lease.enter(); err != nil {
		return err
	}
	defer r.lease.exit()
	own, in := r.lease.enterCalls(r.calls, r.ctx)
	defer leaveCalls(r.calls, own, in)
	err := n.NextResultSet()
	if err != io.EOF {
		err = r.lease.note(context.Background(), err)
	}
	return err
}

// The column-type methods describe the result in memory; without the
// driver's they answer database/sql's defaults.

// ColumnTypeScanType forwards, or answers any.
func (r *rows) ColumnTypeScanType(i int) reflect.Type {
	if c, ok := r.raw.(driver.RowsColumnTypeScanType); ok {
		return c.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

// ColumnTypeDatabaseTypeName forwards, or answers "".
func (r *rows) ColumnTypeDatabaseTypeName(i int) string {
	if c, ok := r.raw.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return c.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

// ColumnTypeLength forwards, or answers not known.
func (r *rows) ColumnTypeLength(i int) (int64, bool) {
	if c, ok := r.raw.(driver.RowsColumnTypeLength); ok {
		return c.ColumnTypeLength(i)
	}
	return 0, false
}

// ColumnTypeNullable forwards, or answers not known.
func (r *rows) ColumnTypeNullable(i int) (bool, bool) {
	if c, ok := r.raw.(driver.RowsColumnTypeNullable); ok {
		return c.ColumnTypeNullable(i)
	}
	return false, false
}

// ColumnTypePrecisionScale forwards, or answers not known.
func (r *rows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if c, ok := r.raw.(driver.RowsColumnTypePrecisionScale); ok {
		return c.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}
