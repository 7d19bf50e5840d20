package manager

import (
	"context"
	"database/sql/driver"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The facade's connection as a driver.Conn, called as database/sql's
// contract allows and as a careless caller of the driver API might: these
// pin the conditions of ResetSession and IsValid that database/sql alone
// never reaches.

// connectAs returns a facade connection Connect bound to name's lease.
func connectAs(t *testing.T, m *Manager, name string, opts ...FacadeOption) *Conn {
	t.Helper()
	dc, err := NewConnector(m, opts...).Connect(as(name))
	require.NoError(t, err)
	c := dc.(*Conn)
	t.Cleanup(func() { _ = c.Close() })
	require.NotNil(t, c.Lease())
	return c
}

// A hand-over to another identity gives the lease back only when nothing
// is open on it: a transaction or a result set still open keeps it, and
// the hand-over is refused. (Kills the mutants that drop l.tx == nil or
// l.open == nil from ResetSession's rebind condition.)
func TestAHandOverToAnotherIdentityKeepsALeaseWithSomethingOpen(t *testing.T) {
	t.Run("transaction", func(t *testing.T) {
		m, _ := newManager(t, Config{MaxSize: 2})
		c := connectAs(t, m, "alice")
		tx, err := c.BeginTx(as("alice"), driver.TxOptions{})
		require.NoError(t, err)
		require.ErrorIs(t, c.ResetSession(as("bob")), driver.ErrBadConn)
		require.NoError(t, tx.Commit(), "alice's transaction lost its lease")
	})
	t.Run("result set", func(t *testing.T) {
		m, _ := newManager(t, Config{MaxSize: 2})
		c := connectAs(t, m, "alice")
		rows, err := c.QueryContext(as("alice"), "SELECT IDENTITY", nil)
		require.NoError(t, err)
		require.ErrorIs(t, c.ResetSession(as("bob")), driver.ErrBadConn)
		dest := make([]driver.Value, 1)
		require.NoError(t, rows.Next(dest), "alice's result set lost its lease")
		assert.Equal(t, "test:alice", dest[0])
		require.NoError(t, rows.Close())
	})
}

// A hand-over with no identity (and no default identity) is refused, and
// the lease stays bound: it is not given back for a call that could not
// bind another. (Kills the mutant that drops err == nil from
// ResetSession's rebind condition.)
func TestAHandOverWithNoIdentityIsRefusedAndKeepsTheLease(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 2})
	c := connectAs(t, m, "alice")
	l := c.Lease()
	require.ErrorIs(t, c.ResetSession(context.Background()), driver.ErrBadConn)
	assert.Same(t, l, c.Lease(), "the lease was given back")
}

// IsValid gives a facade connection's lease back only when nothing is
// open on it. (Kills the mutants that drop l.tx == nil or l.open == nil
// from IsValid's idle condition.)
func TestIsValidKeepsALeaseWithSomethingOpen(t *testing.T) {
	t.Run("transaction", func(t *testing.T) {
		m, _ := newManager(t, Config{MaxSize: 2})
		c := connectAs(t, m, "alice")
		tx, err := c.BeginTx(as("alice"), driver.TxOptions{})
		require.NoError(t, err)
		require.True(t, c.IsValid())
		require.NotNil(t, c.Lease(), "the lease went back under an open transaction")
		require.NoError(t, tx.Commit())
	})
	t.Run("result set", func(t *testing.T) {
		m, _ := newManager(t, Config{MaxSize: 2})
		c := connectAs(t, m, "alice")
		rows, err := c.QueryContext(as("alice"), "SELECT IDENTITY", nil)
		require.NoError(t, err)
		require.True(t, c.IsValid())
		require.NotNil(t, c.Lease(), "the lease went back under an open result set")
		require.NoError(t, rows.Next(make([]driver.Value, 1)))
		require.NoError(t, rows.Close())
	})
}

// A broken lease's connection is refused at a hand-over and reported
// invalid, whatever its driver says. (Kills the mutants that drop the
// broken check of ResetSession or of IsValid.)
func TestABrokenLeaseIsNeitherHandedOverNorValid(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 2})
	l, err := m.Acquire(context.Background(), identity("alice"))
	require.NoError(t, err)
	defer l.Release(nil)
	c := l.Conn()
	l.markBroken() // what a call failing with a broken-connection error does
	assert.ErrorIs(t, c.ResetSession(context.Background()), driver.ErrBadConn)
	assert.False(t, c.IsValid())
}

// A hand-over's failed bind is the next call's error, once: the call
// after it binds afresh. (Kills the mutant that keeps bindErr after
// returning it.)
func TestAFailedBindAtAHandOverFailsOneCall(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 2})
	dc, err := NewConnector(m).Connect(context.Background()) // unbound
	require.NoError(t, err)
	c := dc.(*Conn)
	defer func() { _ = c.Close() }()
	ended, cancel := context.WithCancel(as("alice"))
	cancel()
	require.NoError(t, c.ResetSession(ended), "a failed bind is kept for the call")
	_, err = c.ExecContext(as("alice"), "SELECT 1", nil)
	require.ErrorIs(t, err, context.Canceled)
	_, err = c.ExecContext(as("alice"), "SELECT 1", nil)
	require.NoError(t, err, "the bind's error outlived the call it was for")
}

// A connection that database/sql's opener bound to the default identity
// is checked exactly at a hand-over: once handed to alice's call it is
// hers, and a later call with bob's ctx is refused rather than rebinding
// it. (Kills the mutant that leaves the connection fresh in
// ResetSession.)
func TestAFreshConnectionHandedOverIsNoLongerRebound(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 2})
	dc, err := NewConnector(m, WithDefaultIdentity(identity("alice"))).Connect(context.Background())
	require.NoError(t, err)
	c := dc.(*Conn)
	defer func() { _ = c.Close() }()
	require.NoError(t, c.ResetSession(as("alice")))
	_, err = c.ExecContext(as("bob"), "SELECT 1", nil)
	require.ErrorIs(t, err, ErrIdentityMismatch)
}

// A connection the opener bound to the default identity keeps its lease
// when its first call carries that same identity: nothing is given back
// and acquired again. (Kills the mutant that rebinds a fresh connection
// whatever the first call's identity.)
func TestAFreshConnectionKeepsItsLeaseForItsOwnIdentity(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 2})
	dc, err := NewConnector(m, WithDefaultIdentity(identity("alice"))).Connect(context.Background())
	require.NoError(t, err)
	c := dc.(*Conn)
	defer func() { _ = c.Close() }()
	l := c.Lease()
	_, err = c.ExecContext(as("alice"), "SELECT 1", nil)
	require.NoError(t, err)
	require.Same(t, l, c.Lease(), "the lease was given back and another acquired")
	_, err = l.Conn().ExecContext(as("alice"), "SELECT 1", nil)
	require.NoError(t, err, "the first lease was released")
}

// A connection the opener bound to the default identity whose first call,
// of another identity, fails to acquire (here its ctx ended between the
// key check and the acquire) holds no lease after it: the default
// identity's went back, and the next call binds its own. (Kills the mutant
// that releases the old lease without clearing it, so that every later
// call on the connection failed with ErrLeaseReleased.)
func TestAFreshConnectionWhoseRebindFailsBindsAtItsNextCall(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 2})
	dc, err := NewConnector(m, WithDefaultIdentity(identity("alice"))).Connect(context.Background())
	require.NoError(t, err)
	c := dc.(*Conn)
	defer func() { _ = c.Close() }()
	ended, cancel := context.WithCancel(as("bob"))
	cancel()
	_, err = c.ExecContext(ended, "SELECT 1", nil)
	require.ErrorIs(t, err, context.Canceled)
	assert.True(t, c.Lease() == nil, "the connection kept alice's released lease")
	assert.Zero(t, m.Stats().Total.Busy, "alice's lease was not given back")

	rows, err := c.QueryContext(as("bob"), "SELECT IDENTITY", nil)
	require.NoError(t, err, "the failed rebind outlived its call")
	dest := make([]driver.Value, 1)
	require.NoError(t, rows.Next(dest))
	assert.Equal(t, "test:bob", dest[0])
	require.NoError(t, rows.Close())
}

// A transaction finished twice (a careless caller of the driver API: its
// Rollback after its Commit; database/sql never does it) leaves alone the
// transaction begun since on the same connection: that one still keeps
// the lease when database/sql takes the connection back (IsValid), and
// commits. (Kills the mutant that clears the lease's transaction in
// trackedTx.finish whichever transaction it is: IsValid then gave the
// lease back under the open transaction, whose Commit failed with
// ErrLeaseReleased.)
func TestAStaleTransactionsFinishLeavesTheNewerOneOpen(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 1, HealthCheckAfter: -1,
		Dialer: DialerFunc(func(context.Context, DialRequest) (driver.Conn, error) { return newSpy(), nil })})
	c := connectAs(t, m, "alice")
	older, err := c.BeginTx(as("alice"), driver.TxOptions{})
	require.NoError(t, err)
	require.NoError(t, older.Commit())
	newer, err := c.BeginTx(as("alice"), driver.TxOptions{})
	require.NoError(t, err)
	require.NoError(t, older.Rollback()) // the spy's transactions never refuse
	require.True(t, c.IsValid())
	require.NotNil(t, c.Lease(), "the lease went back under the newer transaction")
	require.NoError(t, newer.Commit(), "the newer transaction lost its lease")
}
