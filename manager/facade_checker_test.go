package manager

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/memdb"
)

// point is an argument type only checkerConn's connection-level checker
// accepts, as go-mssqldb's alone accepts sql.Out, mssql.DateTimeOffset and
// TVPs: database/sql's default conversion refuses a struct.
type point struct{ X, Y int }

// checkerConn is go-mssqldb's shape: no QueryerContext or ExecerContext,
// statements without a NamedValueChecker, and a NamedValueChecker on the
// connection. It records whose connection checked each argument.
type checkerConn struct {
	stmtOnlyConn
	checked *checkLog
}

type checkLog struct {
	mu  sync.Mutex
	ids []string
}

func (l *checkLog) add(id string) { l.mu.Lock(); l.ids = append(l.ids, id); l.mu.Unlock() }

func (l *checkLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := l.ids
	l.ids = nil
	return ids
}

func (c checkerConn) CheckNamedValue(nv *driver.NamedValue) error {
	c.checked.add(c.c.Identity())
	if p, ok := nv.Value.(point); ok {
		nv.Value = fmt.Sprintf("%d,%d", p.X, p.Y)
		return nil
	}
	return driver.ErrSkip
}

func newCheckerManager(t *testing.T) (*Manager, *checkLog) {
	log := new(checkLog)
	mem := memdb.New()
	m, _ := newManager(t, Config{MaxSize: 1, Dialer: DialerFunc(func(ctx context.Context, req DialRequest) (driver.Conn, error) {
		c, err := mem.Dial(ctx, req)
		if err != nil {
			return nil, err
		}
		return checkerConn{stmtOnlyConn{c.(*memdb.Conn)}, log}, nil
	})})
	return m, log
}

// TestFacadeArgumentsReachTheConnectionsChecker: database/sql takes a
// statement's NamedValueChecker if it has one and the connection's
// otherwise. The facade's statements always have one, and answered
// driver.ErrSkip for a driver statement without, so database/sql never
// asked the connection: through the facade, go-mssqldb refused sql.Out,
// mssql.DateTimeOffset and TVP arguments ("unsupported type ..., a
// struct") that it accepts bare.
func TestFacadeArgumentsReachTheConnectionsChecker(t *testing.T) {
	m, log := newCheckerManager(t)
	db := openFacade(t, m)
	var who string
	require.NoError(t, db.QueryRowContext(as("alice"), "SELECT IDENTITY", point{1, 2}).Scan(&who))
	assert.Equal(t, "test:alice", who)
	for _, id := range log.take() {
		assert.Equal(t, "test:alice", id, "only alice's connection checks her arguments")
	}

	shells := openShellFacade(t, m)
	stmt, err := shells.PrepareContext(as("alice"), "SELECT IDENTITY")
	require.NoError(t, err)
	defer stmt.Close()
	for _, name := range []string{"bob", "alice", "bob"} {
		require.NoError(t, stmt.QueryRowContext(as(name), point{3, 4}).Scan(&who))
		assert.Equal(t, "test:"+name, who)
		ids := log.take()
		assert.NotEmpty(t, ids)
		for _, id := range ids {
			assert.Equal(t, "test:"+name, id, "a shell's statement checks on the lease the call runs on, never the one given back")
		}
	}
}

// TestLeaseStatementChecksArgumentsOnlyWhileHeld: the checker of a
// connection may keep state on it (go-mssqldb records output parameters
// there), so after Release a statement's CheckNamedValue does not reach it.
func TestLeaseStatementChecksArgumentsOnlyWhileHeld(t *testing.T) {
	m, log := newCheckerManager(t)
	l := acquire(t, m, identity("alice"))
	t.Cleanup(func() { l.Release(nil) })
	st, err := l.Conn().PrepareContext(context.Background(), "SELECT IDENTITY")
	require.NoError(t, err)
	nv := driver.NamedValue{Ordinal: 1, Value: point{1, 2}}
	require.NoError(t, st.(driver.NamedValueChecker).CheckNamedValue(&nv))
	assert.Equal(t, "1,2", nv.Value)
	l.Release(nil)
	log.take()
	nv = driver.NamedValue{Ordinal: 1, Value: point{1, 2}}
	assert.ErrorIs(t, st.(driver.NamedValueChecker).CheckNamedValue(&nv), ErrLeaseReleased)
	assert.ErrorIs(t, l.Conn().CheckNamedValue(&nv), ErrLeaseReleased)
	assert.Empty(t, log.take(), "the released connection's checker was not called")
}
