package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/idpool/idpool/manager"
)

// tx is a pgx.Tx whose calls run inside the lease guard, refusing a ctx of
// another identity, like the lease's own.
type tx struct {
	lease *Lease
	raw   pgx.Tx
	ended bool
	// onEnd, when set, runs once Commit or Rollback has run: the Pool's
	// BeginTx releases its lease with it.
	onEnd func()
}

var _ pgx.Tx = (*tx)(nil)

// Begin starts a pseudo nested transaction (a savepoint); see pgx.Tx.
func (t *tx) Begin(ctx context.Context) (pgx.Tx, error) {
	if ctx == nil {
		return nil, nilContextError("Tx.Begin")
	}
	var raw pgx.Tx
	err := t.lease.checked(ctx, func() error {
		var err error
		raw, err = t.raw.Begin(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &tx{lease: t.lease, raw: raw}, nil
}

// Commit commits; see pgx.Tx. After Commit or Rollback it returns
// pgx.ErrTxClosed. A Commit while a result of the transaction is still open
// is refused (see errResultOpen) and the transaction goes on: pgx would
// fail it with "conn busy" and close the connection, rolling back the work
// the caller meant to commit. Close the result and Commit again, or
// Rollback, which is never refused so.
func (t *tx) Commit(ctx context.Context) error {
	if ctx == nil {
		return nilContextError("Tx.Commit") // and the transaction goes on
	}
	return t.end(ctx, true, t.raw.Commit)
}

// Rollback rolls back; see pgx.Tx. After Commit or Rollback it returns
// pgx.ErrTxClosed, so defer tx.Rollback(ctx) is safe.
func (t *tx) Rollback(ctx context.Context) error {
	if ctx == nil {
		return nilContextError("Tx.Rollback") // and the transaction goes on
	}
	return t.end(ctx, false, t.raw.Rollback)
}

// end runs Commit or Rollback once, then onEnd whatever the outcome: pgxpool
// releases its connection the same way. A commit is refused, leaving the
// transaction open, while a result is still open; a rollback is not, so that
// a transaction can always be ended.
func (t *tx) end(ctx context.Context, commit bool, f func(context.Context) error) error {
	if t.ended {
		return pgx.ErrTxClosed
	}
	ran := false
	var refused error
	err := t.lease.guarded(ctx, func() error {
		if refused = t.lease.ml.CheckIdentity(ctx); refused != nil {
			return refused
		}
		if commit && t.lease.conn.PgConn().IsBusy() {
			refused = errResultOpen
			return refused
		}
		ran = true
		return f(ctx)
	})
	if !ran && (refused != nil || errors.Is(err, manager.ErrLeaseBusy)) {
		return err // refused, and the transaction goes on: it can still end
	}
	t.ended = true
	if g := t.onEnd; g != nil {
		t.onEnd = nil
		g()
	}
	return err
}

// CopyFrom copies rows in the transaction; see pgx.Tx.
func (t *tx) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	if ctx == nil {
		return 0, nilContextError("Tx.CopyFrom")
	}
	return t.lease.copyFrom(ctx, t.raw, table, columns, src)
}

// SendBatch sends a batch in the transaction; see pgx.Tx.
func (t *tx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if ctx == nil {
		return pgx.FailedBatchResults(b, nilContextError("Tx.SendBatch"))
	}
	return t.lease.sendBatch(ctx, t.raw, b)
}

// LargeObjects returns pgx's large-object API for the transaction. It is
// not guarded (pgx.LargeObjects cannot be built over another Tx): like
// Lease.Conn, stop using it before Release.
func (t *tx) LargeObjects() pgx.LargeObjects { return t.raw.LargeObjects() }

// Prepare prepares a statement in the transaction's session; see pgx.Tx.
// Release's session reset deallocates it.
func (t *tx) Prepare(ctx context.Context, name, sql string) (sd *pgconn.StatementDescription, err error) {
	if ctx == nil {
		return nil, nilContextError("Tx.Prepare")
	}
	err = t.lease.checked(ctx, func() error {
		sd, err = t.raw.Prepare(ctx, name, sql)
		return err
	})
	return sd, err
}

// Exec runs sql in the transaction; see pgx.Tx.
func (t *tx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if ctx == nil {
		return pgconn.CommandTag{}, nilContextError("Tx.Exec")
	}
	return t.lease.exec(ctx, t.raw, sql, args)
}

// Query runs sql in the transaction; see pgx.Tx and Lease.Query.
func (t *tx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if ctx == nil {
		err := nilContextError("Tx.Query")
		return errRows{err}, err
	}
	return t.lease.query(ctx, t.raw, sql, args)
}

// QueryRow runs sql in the transaction; see pgx.Tx.
func (t *tx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if ctx == nil {
		return errRow{nilContextError("Tx.QueryRow")}
	}
	return t.lease.queryRow(ctx, t.raw, sql, args)
}

// Conn returns the lease's pgx connection (nil once released); see
// Lease.Conn.
func (t *tx) Conn() *pgx.Conn { return t.lease.Conn() }
