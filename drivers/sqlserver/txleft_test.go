package sqlserver_test

import (
	"context"
	"database/sql"
	"testing"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/sim/tds"
	"github.com/idpool/idpool/tokens"
)

// noSessionInTx reports whether no session of srv is in a transaction.
func noSessionInTx(srv *tds.Server) func() bool {
	return func() bool {
		for _, s := range srv.Sessions() {
			if s.InTx {
				return false
			}
		}
		return true
	}
}

// A transaction begun as SQL (BEGIN TRAN in a batch, which database/sql
// and the pool know nothing of) and left open at Release stayed open on
// the server while its connection sat idle in the pool: go-mssqldb's
// ResetSession only flags the next request for sp_reset_connection, so the
// transaction, and on SQL Server the locks it holds, lasted until the
// identity's next lease (or IdleTimeout, or MaxLifetime), blocking every
// other session, of any identity, that touches those rows. Release now
// closes such a connection, as drivers/postgres does, and SQL Server rolls
// the transaction back when the session ends.
func TestATransactionBegunAsSQLIsNotKeptOpenInThePool(t *testing.T) {
	for _, c := range []struct {
		name  string
		leave func(t *testing.T, ctx context.Context, db *sql.DB)
	}{
		{"on a *sql.Conn", func(t *testing.T, ctx context.Context, db *sql.DB) {
			conn, err := db.Conn(ctx)
			require.NoError(t, err)
			_, err = conn.ExecContext(ctx, "BEGIN TRAN; INSERT INTO t VALUES (1)")
			require.NoError(t, err)
			require.NoError(t, conn.Close())
		}},
		{"in a single call", func(t *testing.T, ctx context.Context, db *sql.DB) {
			_, err := db.ExecContext(ctx, "BEGIN TRAN; INSERT INTO t VALUES (1)")
			require.NoError(t, err)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := startServer(t)
			ctx := tokens.WithIdentity(ctxT(t), tokens.SQLLogin())
			db, err := sqlserver.OpenDB(dsnFor(srv, ""), manager.Config{MaxSize: 1})
			require.NoError(t, err)
			defer db.Close()
			_, err = db.ExecContext(ctx, "CREATE TABLE t (a int)")
			require.NoError(t, err)

			c.leave(t, ctx, db.DB)
			eventually(t, noSessionInTx(srv), "the transaction stays open on the idle connection")

			var n, trancount int
			require.NoError(t, db.QueryRowContext(ctx, "SELECT COUNT(*) FROM t").Scan(&n))
			assert.Zero(t, n, "the row of the transaction left open was kept")
			require.NoError(t, db.QueryRowContext(ctx, "SELECT @@TRANCOUNT").Scan(&trancount))
			assert.Zero(t, trancount)
			assert.EqualValues(t, 2, db.Manager.Stats().Total.Opens, "the connection was closed and another opened")
		})
	}
}

// A transaction a lease ends itself, in SQL or through BeginTx, keeps the
// connection: only one left open costs a login.
func TestATransactionEndedAsSQLKeepsTheConnection(t *testing.T) {
	srv := startServer(t)
	ctx := tokens.WithIdentity(ctxT(t), tokens.SQLLogin())
	db, err := sqlserver.OpenDB(dsnFor(srv, ""), manager.Config{MaxSize: 1})
	require.NoError(t, err)
	defer db.Close()

	_, err = db.ExecContext(ctx, "CREATE TABLE t (a int)")
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, "BEGIN TRAN; INSERT INTO t VALUES (1); COMMIT")
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, "BEGIN TRAN; INSERT INTO t VALUES (2); ROLLBACK")
	require.NoError(t, err)
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, "INSERT INTO t VALUES (3)")
	require.NoError(t, err)
	require.NoError(t, tx.Commit())
	var n int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT COUNT(*) FROM t").Scan(&n))
	assert.Equal(t, 2, n)
	assert.EqualValues(t, 1, db.Manager.Stats().Total.Opens, "a connection whose transactions ended was closed")
}

// InTransaction reads go-mssqldb's transaction descriptor, which the
// driver keeps unexported: a driver version that renames it must fail
// here, not silently turn the check off.
func TestTheDriversTransactionDescriptorIsFound(t *testing.T) {
	require.True(t, sqlserver.TranIDFound())
	d, err := sqlserver.NewDialer("sqlserver://127.0.0.1:1?database=x")
	require.NoError(t, err)
	assert.False(t, d.InTransaction(nil), "a nil connection")
	assert.False(t, d.InTransaction(new(mssql.Conn)), "a connection with no session")
}
