package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// Lease is one checked-out pgx connection, logged in as one identity, and
// the capability to use it: a manager.Lease seen through pgx. Its methods
// (and those of the Rows, Row, BatchResults and Tx they return) run inside
// the lease guard: after Release they fail with manager.ErrLeaseReleased
// without touching the connection, which may serve another caller by then;
// an operation while another is in flight on the lease fails with
// manager.ErrLeaseBusy; a call made while a result of the lease is still
// open (Rows not closed, a Row not scanned, BatchResults not closed) is
// refused with an error that says so, and the result reads on; and a ctx that carries another identity than the
// lease's is refused with manager.ErrIdentityMismatch (a ctx with no
// identity is fine: the lease is bound to its own).
//
// Use a lease from one goroutine at a time and Release it exactly once
// (later Releases do nothing). Release resets the session (see the package
// documentation; unless the Dialer was built WithoutSessionReset) before
// the connection serves anyone else. A
// lease released with a result still being read (Rows not closed, a Row not
// scanned, BatchResults not closed) or a transaction not ended has its
// connection closed instead: pgx cannot reset a session in either state.
// The rest of such a result is not read: Release does not wait for a
// server that stopped answering mid-reply. So is a connection on which
// requests were written past pgx (through Conn().PgConn().Frontend(), say)
// whose replies pgx has not parsed (still to come, or left in its read
// buffer): they would reach the next lease.
//
// A Lease not from Acquire (a zero Lease, or a nil *Lease: Acquire's
// result kept past its error) answers every call as a released lease does,
// rather than with a nil-pointer panic: its calls fail with
// manager.ErrLeaseReleased, Conn is nil, Key is "", and Release does
// nothing.
type Lease struct {
	ml       *manager.Lease
	conn     *pgx.Conn
	released atomic.Bool
}

// Conn returns the pgx connection, for what the Lease does not forward
// (Prepare, LISTEN and WaitForNotification, the type map, ...). Calls made
// on it directly bypass the lease guard, as manager.Lease.Raw does: stop
// using it, and end any transaction begun on it, before Release. After
// Release, Conn returns nil.
func (l *Lease) Conn() *pgx.Conn {
	if l == nil || l.released.Load() {
		return nil
	}
	return l.conn
}

// Key returns the pool key the lease came from; "" for a Lease not from
// Acquire.
func (l *Lease) Key() tokens.Key {
	if l == nil {
		return ""
	}
	return l.ml.Key()
}

// Release hands the connection back to its identity's pool, resetting the
// session first (or closing the connection; see Lease). It is idempotent.
// On a nil *Lease (Acquire's result with an error) it does nothing, as
// manager.Lease.Release does: a careless defer l.Release() written before
// Acquire's error is checked must not turn that error into a panic.
func (l *Lease) Release() {
	if l == nil {
		return
	}
	l.release(nil)
}

// release hands the connection back; a broken err (see manager.IsBroken)
// closes it.
func (l *Lease) release(err error) {
	l.released.Store(true)
	l.ml.Release(err)
}

// releaseUnlessHanded is deferred by a Pool call that acquires l for a
// result it returns (Query's Rows, QueryRow's Row, SendBatch's
// BatchResults), which then owns the lease. If the call panics before
// *handed is set (pgx encodes the arguments, and calls their Value and
// Encode methods, in that span), no result owns l and the caller has none
// to close: without this the lease, and its identity's slot, would never
// come back. The connection is closed, as AcquireFunc does when f panics:
// the call may have stopped half-way through a request.
func (l *Lease) releaseUnlessHanded(handed *bool) {
	if !*handed {
		l.release(driver.ErrBadConn)
	}
}

// guarded runs f inside the lease guard under ctx. It returns the guard's
// refusal, in which case f did not run, or f's error. Errors that break the
// connection, and operations cut short by ctx, mark the lease broken, so
// that Release closes the connection instead of reusing it.
//
// A nil *Lease refuses as a released one: manager.Lease.WithRaw does the
// same for a zero Lease's nil manager.Lease.
func (l *Lease) guarded(ctx context.Context, f func() error) error {
	if l == nil {
		return manager.ErrLeaseReleased
	}
	return l.ml.WithRaw(ctx, func(driver.Conn) error { return f() })
}

// checked is guarded for a call that starts an operation: it also refuses a
// ctx carrying another identity than the lease's, and a call made while a
// result of the lease is still open (see errResultOpen).
func (l *Lease) checked(ctx context.Context, f func() error) error {
	return l.guarded(ctx, func() error {
		if err := l.ml.CheckIdentity(ctx); err != nil {
			return err
		}
		if l.conn.PgConn().IsBusy() {
			return errResultOpen
		}
		return f()
	})
}

// errResultOpen refuses a call made on a lease while one of its results is
// still open: inside the guard no other call of the lease runs, so pgx is
// busy only with a result handed out earlier. pgx would answer "conn busy",
// naming neither the result nor the fix, and its BeginTx closes the
// connection on that error, cutting short the result the caller is still
// reading; refused here, the result reads on.
var errResultOpen = errors.New("postgres: a result of this lease is still open (Rows not closed, a Row not scanned, or BatchResults not closed): close it first; the call did not run")

// queryConn is the connection the lease's own calls forward to: l.conn, or for a
// nil *Lease none, which guarded refuses before it is used.
func (l *Lease) queryConn() queryer {
	if l == nil {
		return nil
	}
	return l.conn
}

// queryer is what *pgx.Conn and pgx.Tx share, so that a lease and its
// transactions forward through the same code.
type queryer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}

// Exec runs sql; see pgx.Conn.Exec.
func (l *Lease) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if ctx == nil {
		return pgconn.CommandTag{}, nilContextError("Lease.Exec")
	}
	return l.exec(ctx, l.queryConn(), sql, args)
}

// Query runs sql; see pgx.Conn.Query. The Rows hold the connection until
// they are closed or Next returns false: no other call on the lease can run
// until then, and a Release before then closes the connection.
func (l *Lease) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if ctx == nil {
		err := nilContextError("Lease.Query")
		return errRows{err}, err
	}
	return l.query(ctx, l.queryConn(), sql, args)
}

// QueryRow runs sql; see pgx.Conn.QueryRow. The connection is held until
// Scan is called.
func (l *Lease) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if ctx == nil {
		return errRow{nilContextError("Lease.QueryRow")}
	}
	return l.queryRow(ctx, l.queryConn(), sql, args)
}

// SendBatch sends b; see pgx.Conn.SendBatch. The connection is held until
// the BatchResults are closed (and a transaction the batch began with
// pgx.Batch.BeginTx is open until it is ended through BatchResults.Tx).
func (l *Lease) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if ctx == nil {
		return pgx.FailedBatchResults(b, nilContextError("Lease.SendBatch"))
	}
	return l.sendBatch(ctx, l.queryConn(), b)
}

// CopyFrom copies rows into table with the COPY protocol; see
// pgx.Conn.CopyFrom. src is read inside the lease guard. pgx reads src in a
// goroutine of its own, where a panic of src's (a pgx.CopyFromFunc
// callback's) would end the program: CopyFrom aborts the COPY instead and
// panics with the same value in the caller's goroutine. A panic in a
// value's Value or Encode method, which pgx calls there too, still ends the
// program, as with pgx.
func (l *Lease) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	if ctx == nil {
		return 0, nilContextError("Lease.CopyFrom")
	}
	return l.copyFrom(ctx, l.queryConn(), table, columns, src)
}

// Begin starts a transaction with default options; see BeginTx.
func (l *Lease) Begin(ctx context.Context) (pgx.Tx, error) {
	if ctx == nil {
		return nil, nilContextError("Lease.Begin")
	}
	return l.BeginTx(ctx, pgx.TxOptions{})
}

// BeginTx starts a transaction; see pgx.Conn.BeginTx. Its calls run inside
// the lease guard like the lease's own. Release rolls back a transaction
// left open by closing the connection: end it first.
func (l *Lease) BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error) {
	if ctx == nil {
		return nil, nilContextError("Lease.BeginTx")
	}
	var raw pgx.Tx
	err := l.checked(ctx, func() error {
		var err error
		raw, err = l.conn.BeginTx(ctx, opts)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &tx{lease: l, raw: raw}, nil
}

func (l *Lease) exec(ctx context.Context, q queryer, sql string, args []any) (tag pgconn.CommandTag, err error) {
	err = l.checked(ctx, func() error {
		tag, err = q.Exec(ctx, sql, args...)
		return err
	})
	return tag, err
}

func (l *Lease) query(ctx context.Context, q queryer, sql string, args []any) (pgx.Rows, error) {
	var raw pgx.Rows
	err := l.checked(ctx, func() error {
		var err error
		raw, err = q.Query(ctx, sql, args...)
		return err
	})
	if raw == nil {
		return errRows{err}, err
	}
	return newRows(l, ctx, raw, err), err
}

func (l *Lease) queryRow(ctx context.Context, q queryer, sql string, args []any) pgx.Row {
	var raw pgx.Row
	err := l.checked(ctx, func() error {
		raw = q.QueryRow(ctx, sql, args...)
		return nil
	})
	return &row{lease: l, ctx: ctx, raw: raw, err: err}
}

func (l *Lease) sendBatch(ctx context.Context, q queryer, b *pgx.Batch) *batchResults {
	var raw pgx.BatchResults
	err := l.checked(ctx, func() error {
		raw = q.SendBatch(ctx, b)
		return nil
	})
	if raw == nil {
		raw = pgx.FailedBatchResults(b, err) // its Tx, if b began one, is closed
	}
	br := &batchResults{lease: l, ctx: ctx, raw: raw, err: err}
	if t := raw.Tx(); t != nil {
		br.tx = &tx{lease: l, raw: t}
	}
	return br
}

func (l *Lease) copyFrom(ctx context.Context, q queryer, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (n int64, err error) {
	rs := &recoveringSource{src: src}
	err = l.checked(ctx, func() error {
		n, err = q.CopyFrom(ctx, table, columns, rs)
		if p, ok := rs.recovered(); ok {
			panic(p)
		}
		return err
	})
	return n, err
}

// recoveringSource is a CopyFrom source whose panics are caught rather than
// left to end the program: pgx reads the source in a goroutine of its own,
// where no caller can recover them. A panic ends the source with an error,
// so pgx aborts the COPY (CopyFail: nothing is copied) and returns; copyFrom
// then panics again with the same value in the caller's goroutine (with the
// caller's stack, not the source's), where the Pool's and AcquireFunc's
// handling of a panic hands the lease back. A panic in a value's Value or
// Encode method, which pgx calls in that goroutine too, is out of its
// reach: pgx calls them itself.
//
// It takes no lock (README names the library's locks): the first panic's
// value is stored once, atomically, and read after pgx's goroutine is done.
type recoveringSource struct {
	src   pgx.CopyFromSource
	first atomic.Pointer[recoveredPanic]
}

// recoveredPanic is the value of a source's panic (which may be nil).
type recoveredPanic struct{ value any }

// errSourcePanicked ends a source that panicked; copyFrom panics instead of
// returning it.
var errSourcePanicked = errors.New("postgres: the CopyFrom source panicked")

// Next, Values and Err forward to the source; once it has panicked they
// report the end of it, with errSourcePanicked.
func (s *recoveringSource) Next() (more bool) {
	if _, ok := s.recovered(); ok {
		return false
	}
	defer func() {
		if r := recover(); r != nil {
			s.record(r)
			more = false
		}
	}()
	return s.src.Next()
}

func (s *recoveringSource) Values() (v []any, err error) {
	if _, ok := s.recovered(); ok {
		return nil, errSourcePanicked
	}
	defer func() {
		if r := recover(); r != nil {
			s.record(r)
			v, err = nil, errSourcePanicked
		}
	}()
	return s.src.Values()
}

func (s *recoveringSource) Err() (err error) {
	if _, ok := s.recovered(); ok {
		return errSourcePanicked
	}
	defer func() {
		if r := recover(); r != nil {
			s.record(r)
			err = errSourcePanicked
		}
	}()
	return s.src.Err()
}

// record keeps the value of the source's first panic.
func (s *recoveringSource) record(r any) {
	s.first.CompareAndSwap(nil, &recoveredPanic{value: r})
}

// recovered returns the value of the source's panic, if it panicked.
func (s *recoveringSource) recovered() (any, bool) {
	if p := s.first.Load(); p != nil {
		return p.value, true
	}
	return nil, false
}
