package postgres_test

import (
	"context"
	"database/sql/driver"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/manager"
)

// Release of a lease with a transaction left open, against a server that
// stopped answering (a proxy gone silent on the connections open then; new
// ones still reach the server). Release rolls the transaction back, and
// pgx's stdlib sends that ROLLBACK, and waits for its answer, under the
// transaction's BeginTx ctx, here context.Background(), as most callers
// pass: without a bound, Release blocked for good in the rollback, holding
// its caller and the identity's one slot. The bound is CancelGrace, counted
// from Release (docs/OPERATIONS.md), as for a result set left open
// (release_openresult_test.go, whose helpers these tests share), with the
// same margin (leftOpenMargin) for scheduling on a loaded machine.
//
// drivers/postgres's own Lease is not affected: a transaction begun on it
// is pgx's, which the Manager does not track, and the session reset refuses
// a connection left in a transaction, so Release closes it without I/O.

// TestReleaseWithATransactionLeftOpenOnASilentServerIsBounded: a Manager
// lease, a transaction begun under context.Background() with a statement
// run in it, the server silent, Release. Release must return within
// CancelGrace (plus the margin), and the identity's only slot must serve
// the next acquire with a fresh, working connection: another backend, one
// more login at the server.
func TestReleaseWithATransactionLeftOpenOnASilentServerIsBounded(t *testing.T) {
	e := newSilentEnv(t, manager.Config{MaxSize: 1})
	ml, pid := e.managerLease(t, as(t, e.alice))
	_, err := ml.Conn().BeginTx(context.Background(), driver.TxOptions{})
	require.NoError(t, err)
	_, err = ml.Conn().ExecContext(context.Background(), "CREATE TEMPORARY TABLE left_open (n int)", nil)
	require.NoError(t, err)
	e.silenceThenRelease(t, pid, func() { ml.Release(nil) })
}

// TestFacadeConnClosedWithADriverTransactionLeftOpenOnASilentServerIsBounded:
// the same through the *sql.DB of OpenDB. A *sql.Tx never reaches the
// lease's rollback (database/sql keeps the connection until the Tx ends,
// and rolls it back itself), but a transaction begun on the driver
// connection through sql.Conn.Raw and left open is rolled back by the
// lease's Release when sql.Conn.Close hands the connection back. That
// rollback blocked for good on a silent server, holding the caller in
// sql.Conn.Close and the identity's slot.
func TestFacadeConnClosedWithADriverTransactionLeftOpenOnASilentServerIsBounded(t *testing.T) {
	facadeConnClosedOnASilentServer(t, func(ctx context.Context, dc any) error {
		if _, err := dc.(driver.ConnBeginTx).BeginTx(ctx, driver.TxOptions{}); err != nil {
			return err
		}
		_, err := dc.(driver.ExecerContext).ExecContext(ctx, "CREATE TEMPORARY TABLE left_open (n int)", nil)
		return err // and the transaction left open
	})
}
