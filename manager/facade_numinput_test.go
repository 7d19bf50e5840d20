package manager

import (
	"context"
	"database/sql/driver"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/sim/memdb"
)

// oneParamDialer dials memdb connections whose prepared statements take
// exactly one argument (NumInput 1, as pgx's and lib/pq's report their
// placeholders) and count the calls that reach them.
type oneParamDialer struct {
	db    *memdb.DB
	calls *atomic.Int64
}

func (d oneParamDialer) Dial(ctx context.Context, req actors.DialRequest) (driver.Conn, error) {
	c, err := d.db.Dial(ctx, req)
	if err != nil {
		return nil, err
	}
	return oneParamConn{Conn: c.(*memdb.Conn), calls: d.calls}, nil
}

type oneParamConn struct {
	*memdb.Conn
	calls *atomic.Int64
}

func (c oneParamConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c oneParamConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	s, err := c.Conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return oneParamStmt{countedStmt: &countedStmt{inner: s, open: new(atomic.Int64)}, calls: c.calls}, nil
}

type oneParamStmt struct {
	*countedStmt
	calls *atomic.Int64
}

func (s oneParamStmt) NumInput() int { return 1 }
func (s oneParamStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.calls.Add(1)
	return s.countedStmt.ExecContext(ctx, args)
}
func (s oneParamStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.calls.Add(1)
	return s.countedStmt.QueryContext(ctx, args)
}

// TestFacadeStatementCountsItsArgumentsWithNone: a facade statement answers
// NumInput -1, so database/sql no longer counts a call's arguments against
// the driver statement's; the call counts them as it converts them. A call
// with no arguments has none to convert: it must still be counted, and
// refused with database/sql's own error before it reaches the driver, as
// it is without the facade.
func TestFacadeStatementCountsItsArgumentsWithNone(t *testing.T) {
	var calls atomic.Int64
	m, _ := newManager(t, Config{MaxSize: 2, Dialer: oneParamDialer{db: memdb.New(), calls: &calls}})
	db := openFacade(t, m)
	for _, prepareAs := range []context.Context{as("alice"), context.Background()} {
		st, err := db.PrepareContext(prepareAs, "SELECT 1")
		require.NoError(t, err)
		_, err = st.ExecContext(as("alice"))
		assert.EqualError(t, err, "sql: expected 1 arguments, got 0")
		rows, err := st.QueryContext(as("alice"))
		if err == nil {
			_ = rows.Close()
		}
		assert.EqualError(t, err, "sql: expected 1 arguments, got 0")
		_, err = st.ExecContext(as("alice"), 1, 2)
		assert.EqualError(t, err, "sql: expected 1 arguments, got 2")
		assert.Zero(t, calls.Load(), "no call with the wrong count reached the driver")
		_, err = st.ExecContext(as("alice"), 1)
		assert.NoError(t, err)
		assert.Equal(t, int64(1), calls.Swap(0))
		require.NoError(t, st.Close())
	}
}
