package manager

import (
	"context"
	"database/sql/driver"
	"io"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/memdb"
)

// moreSetsConn's result sets always have a further one, and count the
// NextResultSet calls that reach them.
type moreSetsConn struct {
	*memdb.Conn
	nextSets *atomic.Int32
}

type moreSetsRows struct {
	driver.Rows
	nextSets *atomic.Int32
}

func (moreSetsRows) HasNextResultSet() bool { return true }
func (r moreSetsRows) NextResultSet() error {
	r.nextSets.Add(1)
	return io.EOF
}

func (c moreSetsConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	r, err := c.Conn.QueryContext(ctx, q, args)
	if err != nil {
		return nil, err
	}
	return moreSetsRows{r, c.nextSets}, nil
}

// TestAReleasedLeasesResultSetMovesToNoFurtherSet: a result set kept past
// its lease's Release (by a caller that released early, or a goroutine still
// holding it) must not reach the connection, which may serve another caller
// by then: NextResultSet reads the next result set's reply from the
// connection (go-mssqldb reads the connection's token stream) as Next
// reads a row. Like Next and Close, it fails with ErrLeaseReleased and
// never reaches the driver.
func TestAReleasedLeasesResultSetMovesToNoFurtherSet(t *testing.T) {
	mem := memdb.New()
	var nextSets atomic.Int32
	m, _ := newManager(t, Config{MaxSize: 1, Dialer: DialerFunc(func(ctx context.Context, req DialRequest) (driver.Conn, error) {
		c, err := mem.Dial(ctx, req)
		if err != nil {
			return nil, err
		}
		return moreSetsConn{c.(*memdb.Conn), &nextSets}, nil
	})})
	l := acquire(t, m, sqlLogin)
	rows := query(t, l, "SELECT IDENTITY").(driver.RowsNextResultSet)
	l.Release(nil)

	assert.False(t, rows.HasNextResultSet(), "a released lease's result set has no further one")
	assert.ErrorIs(t, rows.NextResultSet(), ErrLeaseReleased)
	assert.Zero(t, nextSets.Load(), "NextResultSet reached the driver after Release")
	require.ErrorIs(t, rows.Next(make([]driver.Value, 1)), ErrLeaseReleased)
}
