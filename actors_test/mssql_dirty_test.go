package e2e

import (
	"context"
	"database/sql/driver"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// TestMSSQLDirtyCheckout: session A inserts without committing and gives the
// connection back, in every way a caller can abandon work: a transaction
// whose ctx is cancelled, a transaction begun by a raw BEGIN TRAN batch that
// database/sql knows nothing of (its session is closed), and a Lease
// released without Commit. With MaxSize 1, session B runs on the same
// physical connection (same SPID) unless A's was closed, and sees none of
// A's rows and no open transaction; committed rows survive.
func TestMSSQLDirtyCheckout(t *testing.T) {
	env := startMSSQL(t)
	id := env.servicePrincipal(t, "dirty")
	db := env.openDB(t, manager.Config{MaxSize: 1})
	ctx := tokens.WithIdentity(testCtx(t, 30*time.Second), id.ID)

	_, err := db.ExecContext(ctx, "CREATE TABLE dirty (id INT)")
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, "INSERT INTO dirty VALUES (1)")
	require.NoError(t, err)

	// sessionB reads what the next user of the connection sees.
	sessionB := func() (count int64, trancount int64, spid int64) {
		t.Helper()
		require.NoError(t, db.QueryRowContext(ctx, "SELECT COUNT(*) FROM dirty").Scan(&count))
		require.NoError(t, db.QueryRowContext(ctx, "SELECT @@TRANCOUNT, @@SPID").Scan(&trancount, &spid))
		return
	}
	_, _, spid0 := sessionB()
	logins := env.tds.Logins(id.Login)

	t.Run("ctx cancelled mid-transaction", func(t *testing.T) {
		actx, cancel := context.WithCancel(ctx)
		tx, err := db.BeginTx(actx, nil)
		require.NoError(t, err)
		_, err = tx.ExecContext(actx, "INSERT INTO dirty VALUES (2)")
		require.NoError(t, err)
		var spid int64
		require.NoError(t, tx.QueryRowContext(actx, "SELECT @@SPID").Scan(&spid))
		s, ok := env.sessionBySPID(int(spid))
		require.True(t, ok)
		require.True(t, s.InTx, "A's insert is pending in an open transaction")
		cancel() // database/sql rolls the transaction back and returns the lease

		count, trancount, spidB := sessionB()
		assert.EqualValues(t, 1, count, "B must not see A's uncommitted row")
		assert.Zero(t, trancount)
		if spidB != spid {
			// The rollback ran under the cancelled ctx, so the pool could
			// not trust the connection and closed it: A's session is gone.
			eventually(t, 10*time.Second, func() bool { _, ok := env.sessionBySPID(int(spid)); return !ok },
				"A's session %d stays open at the server", spid)
		}
		t.Logf("A on spid %d, B on spid %d", spid, spidB)
	})

	t.Run("raw BEGIN TRAN on a *sql.Conn", func(t *testing.T) {
		c, err := db.Conn(ctx)
		require.NoError(t, err)
		_, err = c.ExecContext(ctx, "BEGIN TRAN")
		require.NoError(t, err)
		_, err = c.ExecContext(ctx, "INSERT INTO dirty VALUES (3)")
		require.NoError(t, err)
		var spidA int64
		require.NoError(t, c.QueryRowContext(ctx, "SELECT @@SPID").Scan(&spidA))
		require.NoError(t, c.Close()) // database/sql never saw the transaction

		// Its transaction is not kept open in the pool (on SQL Server, with
		// its locks) until the reset of the next lease: Release closes the
		// session, and the server rolls the transaction back.
		eventually(t, 10*time.Second, func() bool { _, ok := env.sessionBySPID(int(spidA)); return !ok },
			"A's session %d, left in a transaction, stays open at the server", spidA)
		count, trancount, spidB := sessionB()
		assert.NotEqual(t, spidA, spidB, "B runs on a new physical connection")
		assert.EqualValues(t, 1, count, "A's transaction was rolled back")
		assert.Zero(t, trancount)
	})

	t.Run("Lease released without Commit", func(t *testing.T) {
		l := acquire(t, ctx, db.Manager, id.ID)
		tx, err := l.Conn().BeginTx(ctx, driver.TxOptions{})
		require.NoError(t, err)
		require.NoError(t, leaseExec(ctx, l, "INSERT INTO dirty VALUES (4)"))
		spidA, err := leaseQuery(ctx, l, "SELECT @@SPID")
		require.NoError(t, err)
		n, err := leaseQuery(ctx, l, "SELECT COUNT(*) FROM dirty")
		require.NoError(t, err)
		require.EqualValues(t, 2, n, "A sees its own pending row")
		_ = tx // abandoned: neither Commit nor Rollback
		l.Release(nil)

		l2 := acquire(t, ctx, db.Manager, id.ID)
		defer l2.Release(nil)
		spidB, err := leaseQuery(ctx, l2, "SELECT @@SPID")
		require.NoError(t, err)
		assert.Equal(t, spidA, spidB, "B runs on the same physical connection")
		n, err = leaseQuery(ctx, l2, "SELECT COUNT(*) FROM dirty")
		require.NoError(t, err)
		assert.EqualValues(t, 1, n)
		tc, err := leaseQuery(ctx, l2, "SELECT @@TRANCOUNT")
		require.NoError(t, err)
		assert.EqualValues(t, 0, tc)
	})

	t.Run("committed rows survive", func(t *testing.T) {
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		_, err = tx.ExecContext(ctx, "INSERT INTO dirty VALUES (5)")
		require.NoError(t, err)
		require.NoError(t, tx.Commit())
		count, trancount, _ := sessionB()
		assert.EqualValues(t, 2, count)
		assert.Zero(t, trancount)
		rows, ok := env.tds.CommittedRows("dirty")
		require.True(t, ok)
		assert.EqualValues(t, 2, rows)
	})

	st := db.Manager.Stats()
	t.Logf("dirty checkout: first spid %d, logins %d -> %d, closes %v", spid0, logins, env.tds.Logins(id.Login), st.Total.Closes)
	assert.Zero(t, st.Total.Busy)
	assert.LessOrEqual(t, st.Total.Open, 1)
	for _, s := range env.tds.Sessions() {
		assert.False(t, s.InTx, "no session is left in a transaction")
	}
}
