package manager

import (
	"context"
	"database/sql/driver"
	"testing"

	"github.com/idpool/idpool/sim/memdb"
)

// uncheckedConn is a driver connection with QueryerContext and
// ExecerContext but no NamedValueChecker (lib/pq's shape): database/sql
// converts its arguments itself, running a driver.Valuer as it does.
type uncheckedConn struct{ c *memdb.Conn }

func (u uncheckedConn) Prepare(q string) (driver.Stmt, error) { return u.c.Prepare(q) }
func (u uncheckedConn) Close() error                          { return u.c.Close() }
func (u uncheckedConn) Begin() (driver.Tx, error)             { return u.c.Begin() }
func (u uncheckedConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	return u.c.QueryContext(ctx, q, args)
}
func (u uncheckedConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	return u.c.ExecContext(ctx, q, args)
}

// TestFacadeArgumentConversionThatPanicsGivesItsLeaseBack: with a driver
// that has no NamedValueChecker, database/sql runs each argument's
// driver.Valuer itself, as it converts the arguments before the call, and
// recovers nothing there; the facade passed the conversion to it on a
// connection already bound to its lease, so a Valuer that panicked left
// the lease held for good: with MaxSize 1, the identity's next call waited
// until its deadline.
func TestFacadeArgumentConversionThatPanicsGivesItsLeaseBack(t *testing.T) {
	panickingValuerCallsGiveTheLeaseBack(t, func(c *memdb.Conn) driver.Conn { return uncheckedConn{c} }, nil)
}
