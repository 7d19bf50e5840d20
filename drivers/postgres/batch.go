package postgres

import (
	"context"
	"database/sql/driver"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// batchResults is pgx.BatchResults read inside the lease guard, one guarded
// operation per call, like rows.
type batchResults struct {
	lease  *Lease
	ctx    context.Context
	raw    pgx.BatchResults
	err    error // the guard's refusal
	closed bool
	// tx is the transaction the batch began (pgx.Batch.BeginTx), guarded.
	tx *tx
	// onClose, when set, runs once the results are closed: the Pool's
	// SendBatch releases its lease with it.
	onClose func()
}

var _ pgx.BatchResults = (*batchResults)(nil)

// Exec reads the next query's result; see pgx.BatchResults.
func (b *batchResults) Exec() (tag pgconn.CommandTag, err error) {
	if b.err != nil {
		return tag, b.err
	}
	err = b.lease.guarded(b.ctx, func() error {
		tag, err = b.raw.Exec()
		return err
	})
	return tag, err
}

// Query reads the next query's rows; see pgx.BatchResults. Closing them
// does not close the batch.
func (b *batchResults) Query() (pgx.Rows, error) {
	if b.err != nil {
		return errRows{b.err}, b.err
	}
	var raw pgx.Rows
	err := b.lease.guarded(b.ctx, func() error {
		var err error
		raw, err = b.raw.Query()
		return err
	})
	if raw == nil {
		return errRows{err}, err
	}
	return newRows(b.lease, b.ctx, raw, err), err
}

// QueryRow reads the next query's row; see pgx.BatchResults.
func (b *batchResults) QueryRow() pgx.Row {
	if b.err != nil {
		return errRow{b.err}
	}
	var raw pgx.Row
	err := b.lease.guarded(b.ctx, func() error { raw = b.raw.QueryRow(); return nil })
	return &row{lease: b.lease, ctx: b.ctx, raw: raw, err: err}
}

// Close reads what is left of the batch, running its queued callbacks, and
// returns the first error; see pgx.BatchResults. Once the lease is released
// it returns the refusal and only runs onClose.
func (b *batchResults) Close() error {
	if b.closed {
		return b.err
	}
	b.closed = true
	txOver := b.err != nil // refused at send: pgx.FailedBatchResults' Tx is closed
	if b.err == nil {
		// pgx runs the queued queries' callbacks in its Close: one that
		// panics must not keep the lease these results own.
		ok := false
		defer func() {
			if !ok {
				b.handBackPanicked()
			}
		}()
		b.err = b.lease.guarded(b.ctx, func() error {
			err := b.raw.Close()
			// pgx closes the batch's transaction here when the batch left
			// the connection outside one (the begin query failed, or the
			// batch never reached the server: a statement of it failed to
			// prepare, say); see pgx.BatchResults.Tx.
			txOver = b.tx != nil && b.lease.conn.PgConn().TxStatus() == 'I'
			return err
		})
		ok = true
	}
	if t := b.tx; t != nil && txOver && !t.ended {
		// No transaction is left for the caller to end, and pgx's doc
		// tells them so: a Pool batch's lease, which that transaction
		// held, is released now rather than only at a Commit or Rollback
		// the caller has no reason to call. Those now answer
		// pgx.ErrTxClosed, as pgx's own do.
		t.ended = true
		if g := t.onEnd; g != nil {
			t.onEnd = nil
			g()
		}
	}
	if f := b.onClose; f != nil {
		b.onClose = nil
		f()
	}
	return b.err
}

// handBackPanicked runs when a queued query's callback panicked in Close,
// leaving pgx in the middle of the batch. Results that own their lease (the
// Pool's SendBatch: onClose, or the onEnd of the transaction the batch
// began) hand it back now, its connection closed, before the panic goes on:
// they already count as closed, so no later Close would, and the identity's
// slot would be gone for good. That transaction is over (closing the
// connection rolls it back), and its Commit and Rollback answer
// pgx.ErrTxClosed. A Lease's own results leave the lease to its holder,
// whose Release closes the connection pgx left busy.
func (b *batchResults) handBackPanicked() {
	owned := b.onClose != nil
	b.onClose = nil
	if t := b.tx; t != nil && t.onEnd != nil && !t.ended {
		owned = true
		t.ended = true
		t.onEnd = nil
	}
	if owned {
		b.lease.release(driver.ErrBadConn)
	}
}

// Tx returns the transaction the batch began with pgx.Batch.BeginTx, its
// calls guarded like the lease's, or nil; see pgx.BatchResults.
func (b *batchResults) Tx() pgx.Tx {
	if b.tx == nil {
		return nil
	}
	return b.tx
}
