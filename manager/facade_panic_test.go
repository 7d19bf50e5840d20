package manager

import (
	"context"
	"database/sql/driver"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/memdb"
)

// valuingConn runs the arguments' driver.Valuer as it encodes them, inside
// QueryContext and ExecContext, as pgx does (go-mssqldb does it in its
// statements).
type valuingConn struct{ *memdb.Conn }

func valueAll(args []driver.NamedValue) error {
	for _, a := range args {
		if v, ok := a.Value.(driver.Valuer); ok {
			if _, err := v.Value(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c valuingConn) CheckNamedValue(*driver.NamedValue) error { return nil }

func (c valuingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	if err := valueAll(args); err != nil {
		return nil, err
	}
	return c.Conn.QueryContext(ctx, q, args)
}

func (c valuingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	if err := valueAll(args); err != nil {
		return nil, err
	}
	return c.Conn.ExecContext(ctx, q, args)
}

type panickingValuer struct{}

func (panickingValuer) Value() (driver.Value, error) { panic("valuer bug") }

// TestFacadeCallThatPanicsGivesItsLeaseBack: database/sql recovers nothing
// on its query and exec paths, so a call that panics (here a
// driver.Valuer, run by the driver) never gives its connection back. Its
// lease held its pool's slot for good: with MaxSize 1, one recovered panic
// made every later call of the identity wait until its deadline.
func TestFacadeCallThatPanicsGivesItsLeaseBack(t *testing.T) {
	panickingValuerCallsGiveTheLeaseBack(t, func(c *memdb.Conn) driver.Conn { return valuingConn{c} }, func(i int, m *Manager) {
		assert.Equal(t, uint64(i+1), m.Stats().Total.Closes["broken"], "the panicked call's connection is closed, not reused")
	})
}

// panickingValuerCallsGiveTheLeaseBack makes an Exec and a QueryRow with a
// driver.Valuer that panics, through a facade over a one-connection pool of
// memdb connections wrapped by wrap, and checks after each that the panic
// went on unchanged and that the identity's next call got the slot back;
// after, if set, checks more.
func panickingValuerCallsGiveTheLeaseBack(t *testing.T, wrap func(*memdb.Conn) driver.Conn, after func(i int, m *Manager)) {
	t.Helper()
	mem := memdb.New()
	m, _ := newManager(t, Config{MaxSize: 1, Dialer: DialerFunc(func(ctx context.Context, req DialRequest) (driver.Conn, error) {
		c, err := mem.Dial(ctx, req)
		if err != nil {
			return nil, err
		}
		return wrap(c.(*memdb.Conn)), nil
	})})
	db := openFacade(t, m)
	for i, call := range []func(){
		func() { _, _ = db.ExecContext(as("alice"), "SELECT 1", panickingValuer{}) },
		func() { _ = db.QueryRowContext(as("alice"), "SELECT 1", panickingValuer{}).Scan(new(int)) },
	} {
		assert.PanicsWithValue(t, "valuer bug", call, "the panic goes on unchanged")
		ctx, cancel := context.WithTimeout(as("alice"), 5*time.Second)
		var who string
		require.NoError(t, db.QueryRowContext(ctx, "SELECT IDENTITY").Scan(&who), "call %d: the slot came back", i)
		cancel()
		assert.Equal(t, "test:alice", who)
		if after != nil {
			after(i, m)
		}
	}
}
