package manager

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
)

// IsBroken reports whether err leaves a connection in an unknown state, so
// that it must be closed rather than reused: driver.ErrBadConn, network
// errors (which include a passed deadline), io.EOF, a cancelled context, and
// a SQL Server error of severity 20 or more. Anything else, such as an
// ordinary SQL error from the server, leaves the connection usable.
//
// Severities 20 to 25 are SQL Server's fatal errors: the server may end the
// session after sending one, and does for error 18059, its refusal to reset
// a session left under EXECUTE AS. go-mssqldb reports such an error as an
// ordinary one and finds the session gone only at its next read, so the
// connection would otherwise go back to the pool and fail the next lease.
// The severity is read through go-mssqldb's SQLErrorClass method, so this
// package does not import the driver.
func IsBroken(err error) bool {
	if err == nil {
		return false
	}
	var ne net.Error
	var sev sqlErrorClass
	return errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.As(err, &ne) ||
		errors.As(err, &sev) && sev.SQLErrorClass() >= fatalSeverity
}

// sqlErrorClass is a SQL Server error's severity (go-mssqldb's mssql.Error).
type sqlErrorClass interface{ SQLErrorClass() uint8 }

// fatalSeverity is the least severity of SQL Server's fatal errors.
const fatalSeverity = 20

// touched remembers the ctx of the latest operation on the lease. If that
// ctx has ended by the time the lease is released, the operation may have
// been cut short while its results were still being read (a driver.Rows the
// lease does not see), so the connection is treated as broken.
func (l *Lease) touched(ctx context.Context) { l.lastCtx = ctx }

// note records err from an operation run under ctx: an operation cut short
// by its ctx, or failing with a broken-connection error, breaks the lease.
// SQL Server's refusal to reset the session (see resetRefused) comes back
// as driver.ErrBadConn too.
func (l *Lease) note(ctx context.Context, err error) error {
	if err == nil || err == driver.ErrSkip {
		return err
	}
	if IsBroken(err) || ctx.Err() != nil {
		l.markBroken()
		if resetRefused(err) {
			return fmt.Errorf("%w: %w", driver.ErrBadConn, err)
		}
		return err
	}
	if l.m == nil {
		return err // a bare Lease of a test
	}
	if t := l.m.resetTracker; t != nil {
		t.CallFailed(l.raw, err)
	}
	return err
}

// ResetTracker is implemented by a Dialer whose driver resets a session
// lazily, and can lose the reset. go-mssqldb's ResetSession only flags the
// connection, so that the next request carries the reset to the server; and
// it clears the flag as it starts to build that request, before it encodes
// the arguments. A call that fails there (a driver.Valuer whose Value fails,
// a table-valued parameter it cannot encode) sends nothing, and the lease's
// next call ran in the session as the last lease had left it: its
// temporary tables, SET options, CONTEXT_INFO, an open transaction. With
// these two calls the Dialer can tell that nothing went out since the reset,
// and flag it again.
type ResetTracker interface {
	// SessionReset is called once the driver connection's ResetSession
	// has succeeded (at Release, and when database/sql hands the facade's
	// connection over).
	SessionReset(conn driver.Conn)
	// CallFailed is called with the error of a call on conn (or of a
	// WithRaw function) that IsBroken does not count, and with a nil error
	// after calls on conn the Manager does not see the errors of: a
	// WithRaw function that returned nil, and a PrepareConn or AfterRelease
	// hook that kept the connection (each may have swallowed the error of
	// a call that failed before sending). It must not block.
	CallFailed(conn driver.Conn, err error)
}

// unseenCalls tells a ResetTracker Dialer that calls whose errors the
// Manager did not see ran on l's connection (see CallFailed).
func (l *Lease) unseenCalls() {
	if l.m == nil {
		return // a bare Lease of a test
	}
	if t := l.m.resetTracker; t != nil {
		t.CallFailed(l.raw, nil)
	}
}

// TxReporter is implemented by a Dialer whose driver knows when a session
// is in a transaction the pool did not begin: a BEGIN TRAN sent as SQL,
// which database/sql and the lease know nothing of, so Release has no
// driver.Tx to roll back. go-mssqldb's ResetSession only flags the next
// request for sp_reset_connection, so such a transaction, and on SQL
// Server the locks it holds, stayed open on the connection while it sat
// idle in the pool, blocking the sessions of every identity that touched
// those rows until the identity's next lease (or IdleTimeout, or
// MaxLifetime). Release closes such a connection instead of keeping it;
// the server rolls the transaction back as the session ends.
type TxReporter interface {
	// InTransaction reports whether conn's session is in a transaction.
	// It must do no I/O and must not block.
	InTransaction(conn driver.Conn) bool
}

// txLeftOpen reports whether l's Dialer, a TxReporter, says that l's
// session is still in a transaction.
func (l *Lease) txLeftOpen() bool {
	t := l.m.txReporter
	return t != nil && t.InTransaction(l.raw)
}

// sessionReset tells a ResetTracker Dialer that l's session was reset.
func (l *Lease) sessionReset() {
	if t := l.m.resetTracker; t != nil {
		t.SessionReset(l.raw)
	}
}

// resetRefused reports SQL Server's error 18059: it refused to reset the
// session for the request (the last lease left it under EXECUTE AS) and
// ended the session before running the request. The call provably did not
// run, which is what driver.ErrBadConn's contract asks, so database/sql
// (and so the facade) runs it again on another connection rather than fail
// it. The number is read through go-mssqldb's SQLErrorNumber method, so
// this package does not import the driver.
func resetRefused(err error) bool {
	var n sqlErrorNumber
	return errors.As(err, &n) && n.SQLErrorNumber() == errResetRefused
}

// sqlErrorNumber is a SQL Server error's number (go-mssqldb's mssql.Error).
type sqlErrorNumber interface{ SQLErrorNumber() int32 }

// errResetRefused is SQL Server's error number for a reset refused under an
// impersonation (severity 20).
const errResetRefused = 18059
