package manager

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rollbackConn is a spyConn whose transactions count their rollbacks.
type rollbackConn struct {
	*spyConn
	rollbacks *atomic.Int32
}

func (c rollbackConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	c.hit("BeginTx")
	return countingTx{c.rollbacks}, nil
}

type countingTx struct{ rollbacks *atomic.Int32 }

func (countingTx) Commit() error     { return nil }
func (t countingTx) Rollback() error { t.rollbacks.Add(1); return nil }

func newRollbackManager(t *testing.T) (*Manager, *spyConn, *atomic.Int32) {
	t.Helper()
	spy, rollbacks := newSpy(), &atomic.Int32{}
	m, err := New(Config{Server: "spy:1/x", MaxSize: 1, HealthCheckAfter: -1,
		Dialer: DialerFunc(func(context.Context, DialRequest) (driver.Conn, error) {
			return rollbackConn{spy, rollbacks}, nil
		})})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close(context.Background())) })
	return m, spy, rollbacks
}

// A transaction whose ctx ends is rolled back by database/sql from a
// goroutine of its own; the facade closes the connection instead of rolling
// back on it, so no driver work runs on a connection about to be closed
// (go-mssqldb's Rollback leaves a reader running that would race its Close).
func TestFacadeTxWhoseCtxEndedClosesTheConnectionInsteadOfRollingBack(t *testing.T) {
	m, spy, rollbacks := newRollbackManager(t)
	db := openFacade(t, m)
	ctx, cancel := context.WithCancel(as("alice"))
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, "INSERT")
	require.NoError(t, err)
	cancel()
	// Either this call or database/sql's awaitDone ends the transaction.
	if err := tx.Rollback(); err != nil {
		require.ErrorIs(t, err, sql.ErrTxDone)
	}
	eventually(t, func() bool { return spy.count("Close") == 1 }, "the connection of the cancelled transaction is closed")
	assert.Zero(t, rollbacks.Load(), "no rollback ran on the connection being closed")
	assert.Equal(t, uint64(1), m.Stats().Total.Closes["broken"], "closed as broken")

	// The next caller gets a connection of its own and works.
	_, err = db.ExecContext(as("alice"), "SELECT")
	require.NoError(t, err)
}

// A rollback while the transaction's ctx is alive runs on the connection,
// which the pool keeps.
func TestFacadeTxRolledBackWithItsCtxAliveKeepsTheConnection(t *testing.T) {
	m, spy, rollbacks := newRollbackManager(t)
	db := openFacade(t, m)
	tx, err := db.BeginTx(as("alice"), nil)
	require.NoError(t, err)
	require.NoError(t, tx.Rollback())
	assert.Equal(t, int32(1), rollbacks.Load())
	_, err = db.ExecContext(as("alice"), "SELECT")
	require.NoError(t, err)
	assert.Zero(t, spy.count("Close"), "the connection stays open")
	assert.Equal(t, 1, dialsOf(m), "and is reused")
}

func dialsOf(m *Manager) int { return int(m.Stats().Total.Opens) }
