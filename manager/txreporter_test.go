package manager

import (
	"context"
	"database/sql/driver"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/idpool/idpool/sim/memdb"
)

// txReportingDialer is a memdb Dialer that is a TxReporter, as
// drivers/sqlserver's is: it reports a transaction open on every
// connection while inTx is set.
type txReportingDialer struct {
	*memdb.DB
	inTx atomic.Bool
}

func (d *txReportingDialer) InTransaction(driver.Conn) bool { return d.inTx.Load() }

// TestReleaseClosesAConnectionItsDialerReportsInATransaction: a
// transaction begun as SQL leaves Release no driver.Tx to roll back, and
// go-mssqldb's reset waits for the next request: kept, the connection sat
// idle in the pool with the transaction, and its locks, open. Release
// closes it when the Dialer reports it still in a transaction, and keeps
// it otherwise.
func TestReleaseClosesAConnectionItsDialerReportsInATransaction(t *testing.T) {
	d := &txReportingDialer{DB: memdb.New()}
	// Hooks wrap the Dialer: TxReporter is found on the one the caller gave.
	m, _ := newManager(t, Config{MaxSize: 1, Dialer: d,
		Hooks: Hooks{AfterConnect: func(context.Context, driver.Conn) error { return nil }}})

	acquire(t, m, sqlLogin).Release(nil)
	assert.EqualValues(t, 1, m.Stats().Total.Idle, "no transaction: kept")

	d.inTx.Store(true)
	acquire(t, m, sqlLogin).Release(nil)
	d.inTx.Store(false)
	l := acquire(t, m, sqlLogin) // waits for the closed connection's slot
	l.Release(nil)
	s := m.Stats().Total
	assert.EqualValues(t, 2, s.Opens, "the connection left in a transaction was kept")
	assert.EqualValues(t, 1, s.Closes["broken"], "%v", s.Closes)
}
