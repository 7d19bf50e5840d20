package manager

import (
	"context"
	"database/sql/driver"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/memdb"
)

// status stands for go-mssqldb's *mssql.ReturnStatus: an argument the
// connection's checker keeps for the query and removes from the list.
type status struct{}

// keepingConn is checkerConn whose checker also takes a status that way.
type keepingConn struct{ checkerConn }

func (c keepingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if _, ok := nv.Value.(status); ok {
		return driver.ErrRemoveArgument
	}
	return c.checkerConn.CheckNamedValue(nv)
}

// TestFacadeFailedConversionBreaksTheLeaseOnlyAfterAKeptArgument: a call
// whose arguments fail to convert after the driver's checker kept one for
// the query (go-mssqldb's output parameters, return status, message queue)
// closes its connection (drivers/sqlserver's
// TestOpenDBCallWhoseArgumentFailsLeavesNoOutputForTheNextLease shows
// why); one whose plain arguments fail keeps it.
func TestFacadeFailedConversionBreaksTheLeaseOnlyAfterAKeptArgument(t *testing.T) {
	mem := memdb.New()
	m, _ := newManager(t, Config{MaxSize: 1, Dialer: DialerFunc(func(ctx context.Context, req DialRequest) (driver.Conn, error) {
		c, err := mem.Dial(ctx, req)
		if err != nil {
			return nil, err
		}
		return keepingConn{checkerConn{stmtOnlyConn{c.(*memdb.Conn)}, new(checkLog)}}, nil
	})})
	db := openFacade(t, m)
	_, err := db.ExecContext(as("alice"), "SELECT 1", point{1, 2}, make(chan int))
	require.ErrorContains(t, err, "converting argument $2 type")
	_, err = db.ExecContext(as("alice"), "SELECT 1", point{1, 2})
	require.NoError(t, err)
	assert.Zero(t, m.Stats().Total.Closes["broken"], "plain arguments: the connection is kept")

	_, err = db.ExecContext(as("alice"), "SELECT 1", status{}, make(chan int))
	require.ErrorContains(t, err, "converting argument $1 type", "numbered after the removed one")
	_, err = db.ExecContext(as("alice"), "SELECT 1", status{})
	require.NoError(t, err)
	total := m.Stats().Total
	assert.EqualValues(t, 1, total.Closes["broken"], "a kept argument: the connection is closed")
	assert.EqualValues(t, 2, total.Opens)
}
