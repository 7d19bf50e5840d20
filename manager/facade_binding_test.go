package manager

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A *sql.Conn is bound with db.Conn's ctx: when database/sql connects for
// it with that ctx (a new connection), the connection is alice's, and a
// first call with bob's ctx is refused, never served by rebinding the
// connection to bob. (Kills the mutant that marks every connection
// Connect binds as fresh, rebound at its first call.)
func TestFacadeConnBoundAtDBConnRefusesAnotherIdentitysFirstCall(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 2})
	db := openFacade(t, m)
	c, err := db.Conn(as("alice"))
	require.NoError(t, err)
	defer func() { _ = c.Close() }()
	var who string
	err = c.QueryRowContext(as("bob"), "SELECT IDENTITY").Scan(&who)
	require.ErrorIs(t, err, ErrIdentityMismatch, "bob's call ran on alice's *sql.Conn as %q", who)
	require.NoError(t, c.QueryRowContext(as("alice"), "SELECT IDENTITY").Scan(&who))
	assert.Equal(t, "test:alice", who)
}

// A driver connection kept past its *sql.Conn (Conn.Raw's, which
// database/sql forbids) whose shell never held a lease and that
// database/sql has closed acquires nothing: a lease taken there would
// never be released. (Kills the mutants that drop Conn.Close's closed
// flag, or leaseFor's check of it.)
func TestFacadeKeptHandleOfAClosedUnboundShellAcquiresNothing(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 1})
	db := openFacade(t, m)                  // MaxIdleConns 0: database/sql closes it
	c, err := db.Conn(context.Background()) // no identity, no default: unbound
	require.NoError(t, err)
	var kept *Conn
	require.NoError(t, c.Raw(func(raw any) error { kept = raw.(*Conn); return nil }))
	require.NoError(t, c.Close())

	_, err = kept.ExecContext(as("alice"), "SELECT 1", nil)
	require.ErrorIs(t, err, ErrLeaseReleased)
	assert.Zero(t, m.Stats().Total.Busy, "the kept handle acquired a lease nobody releases")
}

// A shell that served a call without a lease (a Ping with no identity)
// and that database/sql keeps idle is parked like one that gave its lease
// back: a handle kept past its *sql.Conn acquires nothing until
// database/sql hands the shell to a call. (Kills the mutant that drops
// IsValid's parking of a shell that holds no lease.)
func TestFacadeKeptHandleOfAnIdleUnboundShellAcquiresNothing(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 1})
	db := openShellFacade(t, m) // MaxIdleConns raised: database/sql keeps it
	c, err := db.Conn(context.Background())
	require.NoError(t, err)
	var kept *Conn
	require.NoError(t, c.Raw(func(raw any) error { kept = raw.(*Conn); return nil }))
	require.NoError(t, c.PingContext(context.Background())) // served, no lease
	require.NoError(t, c.Close())

	_, err = kept.ExecContext(as("alice"), "SELECT 1", nil)
	require.ErrorIs(t, err, ErrLeaseReleased)
	assert.Zero(t, m.Stats().Total.Busy, "the kept handle acquired a lease nobody releases")
}
