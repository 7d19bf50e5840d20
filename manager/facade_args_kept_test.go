package manager

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/memdb"
)

// outTakingConn is checkerConn whose checker also takes an output
// parameter (sql.Out), as go-mssqldb's does, recording it on its
// connection for the query.
type outTakingConn struct{ checkerConn }

func (c outTakingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if _, ok := nv.Value.(sql.Out); ok {
		return nil
	}
	return c.checkerConn.CheckNamedValue(nv)
}

// newArgsManager returns a Manager of one connection at a time, each the
// memdb connection wrap makes of it.
func newArgsManager(t *testing.T, wrap func(*memdb.Conn) driver.Conn) *Manager {
	mem := memdb.New()
	m, _ := newManager(t, Config{MaxSize: 1, Dialer: DialerFunc(func(ctx context.Context, req DialRequest) (driver.Conn, error) {
		c, err := mem.Dial(ctx, req)
		if err != nil {
			return nil, err
		}
		return wrap(c.(*memdb.Conn)), nil
	})})
	return m
}

// requireCloses runs a call that succeeds, so that the connection the
// failed call left has been handed back (MaxSize 1), and checks how many
// connections were closed as broken.
func requireCloses(t *testing.T, m *Manager, db *sql.DB, broken uint64, msg string) {
	t.Helper()
	_, err := db.ExecContext(as("alice"), "SELECT 1")
	require.NoError(t, err)
	assert.Equal(t, broken, m.Stats().Total.Closes["broken"], msg)
}

// An output parameter the driver's checker took and a later argument
// that fails to convert: the connection is closed (go-mssqldb recorded the
// output on it); one the checker skipped, which then fails the default
// conversion itself, was recorded nowhere: the connection is kept. (Kills
// the mutants that count an output parameter as kept whatever the
// checker answered, and that count it never.)
func TestFacadeFailedConversionAfterAnOutputParameter(t *testing.T) {
	var dest string
	t.Run("skipped by the checker", func(t *testing.T) {
		m := newArgsManager(t, func(c *memdb.Conn) driver.Conn {
			return checkerConn{stmtOnlyConn{c}, new(checkLog)}
		})
		db := openFacade(t, m)
		_, err := db.ExecContext(as("alice"), "SELECT 1", sql.Out{Dest: &dest})
		require.ErrorContains(t, err, "converting argument $1 type")
		requireCloses(t, m, db, 0, "nothing was recorded on the connection: it is kept")
	})
	t.Run("taken by the checker", func(t *testing.T) {
		m := newArgsManager(t, func(c *memdb.Conn) driver.Conn {
			return outTakingConn{checkerConn{stmtOnlyConn{c}, new(checkLog)}}
		})
		db := openFacade(t, m)
		_, err := db.ExecContext(as("alice"), "SELECT 1", sql.Out{Dest: &dest}, make(chan int))
		require.ErrorContains(t, err, "converting argument $2 type")
		requireCloses(t, m, db, 1, "the output recorded on the connection: it is closed")
	})
}

// keepingOneParamConn is oneParamConn (statements of NumInput 1) whose
// connection checker removes a status from the arguments and keeps it
// for the query, as go-mssqldb's does a *mssql.ReturnStatus.
type keepingOneParamConn struct{ oneParamConn }

func (c keepingOneParamConn) CheckNamedValue(nv *driver.NamedValue) error {
	if _, ok := nv.Value.(status); ok {
		return driver.ErrRemoveArgument
	}
	return c.oneParamConn.CheckNamedValue(nv)
}

// A statement's call refused for its count of arguments closes its
// connection when the driver's checker kept one of them for the query (a
// status it removed from the list), and keeps it otherwise. (Kills the
// mutants that drop the count check's markBroken, and that break the
// lease there whatever was kept.)
func TestFacadeStatementMiscountedArgumentsBreakTheLeaseOnlyAfterAKeptOne(t *testing.T) {
	var calls atomic.Int64
	m := newArgsManager(t, func(c *memdb.Conn) driver.Conn {
		return keepingOneParamConn{oneParamConn{Conn: c, calls: &calls}}
	})
	db := openFacade(t, m)
	st, err := db.PrepareContext(as("alice"), "SELECT 1")
	require.NoError(t, err)
	defer func() { require.NoError(t, st.Close()) }()

	_, err = st.ExecContext(as("alice"), 1, 2)
	require.EqualError(t, err, "sql: expected 1 arguments, got 2")
	requireCloses(t, m, db, 0, "plain arguments miscounted: the connection is kept")

	_, err = st.ExecContext(as("alice"), status{})
	require.EqualError(t, err, "sql: expected 1 arguments, got 0", "the status removed from the count")
	requireCloses(t, m, db, 1, "a kept argument: the connection is closed")
	_, err = st.ExecContext(as("alice"), status{}, 1)
	require.NoError(t, err)
	assert.EqualValues(t, 1, calls.Load(), "only the well-counted call reached the driver's statement")
}
