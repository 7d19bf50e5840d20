package manager

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/tokens"
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
	ctx, cancel := context.WithCancel(context.Background())
	got := stuckExec(t, ctx, l, c)
	cancel()
	clock.awaitGrace(t)
	clock.advance(testGrace)
	// Released at the end, not deferred: a Release under the stuck call
	// would wait for it on the test's manual clock, for ever.
	require.ErrorIs(t, awaitCut(t, got), errTransportCut)

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
	l.Release(nil)
}

// TestACutSQLConnFailsUnsentAndTheDBServesOnANewConnection: the same as a
// database/sql user meets it. A *sql.Conn whose call was cut gets
// driver.ErrBadConn from its next call (database/sql never retries a
// *sql.Conn's call), and the *sql.DB, once that *sql.Conn is closed,
// serves its next call on a new connection: database/sql discarded the
// *sql.Conn at that error, and the pool closes the cut connection.
func TestACutSQLConnFailsUnsentAndTheDBServesOnANewConnection(t *testing.T) {
	d, clock := &stuckDialer{}, newGraceClock()
	m := newStuckManager(t, d, clock, testGrace)
	db := openFacade(t, m, WithDefaultIdentity(tokens.SQLLogin()))
	conn, err := db.Conn(context.Background())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() {
		_, err := conn.ExecContext(ctx, "stuck")
		got <- err
	}()
	d.awaitConn(t).awaitEntered(t)
	cancel()
	clock.awaitGrace(t)
	clock.advance(testGrace)
	require.Error(t, awaitCut(t, got))

	_, err = conn.ExecContext(context.Background(), "stuck")
	require.ErrorIs(t, err, driver.ErrBadConn, "the next call on the cut *sql.Conn")
	require.ErrorIs(t, conn.Close(), sql.ErrConnDone, "database/sql discarded the *sql.Conn on driver.ErrBadConn")
	_, err = db.ExecContext(context.Background(), "SELECT 1")
	require.NoError(t, err, "the *sql.DB serves the next call")
	awaitCloses(t, d, 1)
}

// awaitConn returns d's first connection once it has been dialed.
func (d *stuckDialer) awaitConn(t *testing.T) *stuckConn {
	t.Helper()
	require.Eventually(t, func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return len(d.conns) > 0
	}, 10*time.Second, time.Millisecond, "no connection was dialed")
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.conns[0]
}
