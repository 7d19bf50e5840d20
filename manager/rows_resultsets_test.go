package manager

import (
	"context"
	"database/sql/driver"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/memdb"
)

// lastSetConn's result sets say a further one may follow
// (HasNextResultSet) and answer NextResultSet with io.EOF, the driver
// contract's "no further result set".
type lastSetConn struct{ *memdb.Conn }

type lastSetRows struct{ driver.Rows }

func (lastSetRows) HasNextResultSet() bool { return true }
func (lastSetRows) NextResultSet() error   { return io.EOF }

func (c lastSetConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	r, err := c.Conn.QueryContext(ctx, q, args)
	if err != nil {
		return nil, err
	}
	return lastSetRows{r}, nil
}

// TestFacadeNoFurtherResultSetIsNotABrokenConnection: NextResultSet's
// io.EOF says there is no further result set; the facade noted it as a
// broken connection's error and closed the connection of every query read
// to its end that way. drivers/sqlserver's
// TestOpenDBNoFurtherResultSetKeepsTheConnection is the go-mssqldb case.
func TestFacadeNoFurtherResultSetIsNotABrokenConnection(t *testing.T) {
	mem := memdb.New()
	m, _ := newManager(t, Config{MaxSize: 1, Dialer: DialerFunc(func(ctx context.Context, req DialRequest) (driver.Conn, error) {
		c, err := mem.Dial(ctx, req)
		if err != nil {
			return nil, err
		}
		return lastSetConn{c.(*memdb.Conn)}, nil
	})})
	db := openFacade(t, m)
	for range 3 {
		rows, err := db.QueryContext(as("alice"), "SELECT IDENTITY")
		require.NoError(t, err)
		for rows.Next() {
		}
		assert.False(t, rows.NextResultSet())
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
	}
	total := m.Stats().Total
	assert.Zero(t, total.Closes["broken"], "no connection was closed as broken")
	assert.EqualValues(t, 1, total.Opens, "one connection served every query")
}
