package manager

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/sim/memdb"
)

// converterDialer dials memdb connections whose prepared statements take
// one argument and implement the deprecated driver.ColumnConverter, as
// older drivers' statements do: its converter exists only for the
// statement's one column, and records the indexes asked for and the last
// argument the statement ran with.
type converterDialer struct {
	db      *memdb.DB
	asked   *atomic.Int64 // the highest index ColumnConverter was asked for, plus one
	lastArg *atomic.Value
}

func (d converterDialer) Dial(ctx context.Context, req actors.DialRequest) (driver.Conn, error) {
	c, err := d.db.Dial(ctx, req)
	if err != nil {
		return nil, err
	}
	return converterConn{Conn: c.(*memdb.Conn), d: d}, nil
}

type converterConn struct {
	*memdb.Conn
	d converterDialer
}

func (c converterConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c converterConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	s, err := c.Conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return converterStmt{countedStmt: &countedStmt{inner: s, open: new(atomic.Int64)}, d: c.d}, nil
}

type converterStmt struct {
	*countedStmt
	d converterDialer
}

func (s converterStmt) NumInput() int { return 1 }

// CheckNamedValue skips every argument, so that the ColumnConverter is
// asked next, as database/sql asks it (the connection's checker, memdb's,
// would otherwise take every argument first).
func (s converterStmt) CheckNamedValue(*driver.NamedValue) error { return driver.ErrSkip }

// ColumnConverter panics for an index past NumInput, as a driver indexing
// its parameter list would.
func (s converterStmt) ColumnConverter(idx int) driver.ValueConverter {
	for {
		old := s.d.asked.Load()
		if int64(idx)+1 <= old || s.d.asked.CompareAndSwap(old, int64(idx)+1) {
			break
		}
	}
	if idx >= 1 {
		panic(fmt.Sprintf("ColumnConverter(%d) on a statement with one parameter", idx))
	}
	return taggingConverter{}
}

func (s converterStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if len(args) > 0 {
		s.d.lastArg.Store(args[0].Value)
	}
	return s.countedStmt.ExecContext(ctx, args)
}

// taggingConverter converts a value as the column's converter would, so
// the test can tell it ran.
type taggingConverter struct{}

func (taggingConverter) ConvertValue(v any) (driver.Value, error) {
	return fmt.Sprintf("col0:%v", v), nil
}

// A statement whose driver statement is a ColumnConverter: the call's
// arguments go through the converter, for the columns the statement has
// only, as database/sql's ccChecker does (it asks for no index at or past
// NumInput: the call is refused by its count instead). (Kills the mutant
// that turns columnConvert's want <= index into want < index.)
func TestFacadeStatementAsksTheColumnConverterOnlyForItsColumns(t *testing.T) {
	var asked atomic.Int64
	var lastArg atomic.Value
	d := converterDialer{db: memdb.New(), asked: &asked, lastArg: &lastArg}
	m, _ := newManager(t, Config{MaxSize: 2, Dialer: d})
	db := openFacade(t, m)
	st, err := db.PrepareContext(as("alice"), "SELECT 1")
	require.NoError(t, err)
	defer func() { require.NoError(t, st.Close()) }()

	_, err = st.ExecContext(as("alice"), 7)
	require.NoError(t, err)
	assert.Equal(t, "col0:7", lastArg.Load(), "the argument went through the statement's ColumnConverter")

	require.NotPanics(t, func() {
		_, err = st.ExecContext(as("alice"), 1, 2)
	})
	assert.EqualError(t, err, "sql: expected 1 arguments, got 2")
	assert.EqualValues(t, 1, asked.Load(), "ColumnConverter was asked for an index past NumInput")
}
