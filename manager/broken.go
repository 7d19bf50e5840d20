package manager

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
)

// IsBroken reports whether err leaves a connection in an unknown state, so
// that it must be closed rather than reused: driver.ErrBadConn, network
// errors (which include a passed deadline), io.EOF, and a cancelled context.
// Anything else, such as a SQL error from the server, leaves the connection
// usable.
func IsBroken(err error) bool {
	if err == nil {
		return false
	}
	var ne net.Error
	return errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.As(err, &ne)
}

// touched remembers the ctx of the latest operation on the lease. If that
// ctx has ended by the time the lease is released, the operation may have
// been cut short while its results were still being read (a driver.Rows the
// lease does not see), so the connection is treated as broken.
func (l *Lease) touched(ctx context.Context) { l.lastCtx = ctx }

// note records err from an operation run under ctx: an operation cut short
// by its ctx, or failing with a broken-connection error, breaks the lease.
func (l *Lease) note(ctx context.Context, err error) error {
	if err != nil && err != driver.ErrSkip && (IsBroken(err) || ctx.Err() != nil) {
		l.broken = true
	}
	return err
}
