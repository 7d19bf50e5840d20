package manager

import (
	"context"
	"database/sql/driver"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestACutLeaseRefusesItsNextCallsUnsent: once a call outlived its ctx by
// CancelGrace and the Dialer cut the lease's transport, the holder's next
// calls (one that raced the cut and returned without an error may be
// followed by more) are refused before the driver with an error matching
// driver.ErrBadConn: nothing was sent. The driver may not know its
// connection is gone, and drivers/sqlserver's cut transport takes what
// go-mssqldb writes without sending it (so that go-mssqldb drains its
// reader): a call let through would look sent, and an INSERT whose read
// then failed might have run, for all its caller could tell.
func TestACutLeaseRefusesItsNextCallsUnsent(t *testing.T) {
	d, clock := &stuckDialer{}, newGraceClock()
	m := newStuckManager(t, d, clock, testGrace)
	l, c := leaseOf(t, m)
	defer l.Release(nil)
	ctx, cancel := context.WithCancel(context.Background())
	got := stuckExec(t, ctx, l, c)
	cancel()
	clock.awaitGrace(t)
	clock.advance(testGrace)
	require.ErrorIs(t, <-got, errTransportCut)

	conn := l.Conn()
	_, err := conn.ExecContext(context.Background(), "stuck", nil)
	assert.ErrorIs(t, err, driver.ErrBadConn, "an Exec reached the cut connection: %v", err)
	_, err = conn.QueryContext(context.Background(), "SELECT 1", nil)
	assert.ErrorIs(t, err, driver.ErrBadConn, "a Query on the cut connection")
	assert.ErrorIs(t, conn.Ping(context.Background()), driver.ErrBadConn, "a Ping on the cut connection")
	_, err = conn.BeginTx(context.Background(), driver.TxOptions{})
	assert.ErrorIs(t, err, driver.ErrBadConn, "a BeginTx on the cut connection")
	assert.Zero(t, c.open.Load(), "no result set was opened on the cut connection")
	assert.False(t, conn.IsValid(), "a cut connection is not kept")
}
