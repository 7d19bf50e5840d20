package sqlserver_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"strings"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/sim/tds"
	"github.com/idpool/idpool/tokens"
)

// go-mssqldb's bulk copy through the facade: mssql.CopyIn prepared on a
// *sql.Tx or *sql.Conn (database/sql runs one Exec per row on the
// facade's statement wrapper, then an Exec with no arguments that sends the
// rows), and Conn.CreateBulkContext on the driver's own connection, which
// the facade gives through its lease (Lease.WithRaw). sim/tds counts each
// table's committed rows per login of the session that inserted them, which
// tells whose connection carried them.

// bulkRig is sim/tds behind the facade, with two token identities.
type bulkRig struct {
	srv        *tds.Server
	db         *manager.DB
	alice, bob tokens.Identity
}

const (
	aliceUPN = "alice@contoso.test"
	bobUPN   = "bob@contoso.test"
)

func tokenIdentity(t *testing.T, upn string) tokens.Identity {
	return tokens.New(tokens.KindManagedIdentity, "msi:"+upn, tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		return mint(t, upn, time.Now().Add(time.Hour)), nil
	}))
}

// startBulkRig opens the facade with one connection per identity, so that
// a lease's next user waits for its release: the tests need no sleeps to
// see what the release left behind.
func startBulkRig(t *testing.T) *bulkRig {
	t.Helper()
	srv := startServer(t)
	db, err := sqlserver.OpenDB(dsnFor(srv, ""), manager.Config{MaxSize: 1, HealthCheckAfter: -1},
		manager.WithDefaultIdentity(tokens.SQLLogin()))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	_, err = db.ExecContext(ctxT(t), "CREATE TABLE loads (id int NOT NULL, big bigint, name nvarchar(20))")
	require.NoError(t, err)
	return &bulkRig{srv: srv, db: db, alice: tokenIdentity(t, aliceUPN), bob: tokenIdentity(t, bobUPN)}
}

var loadColumns = []string{"id", "big", "name"}

func loadRows(n int, name string) [][]any {
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{i, int64(i) << 35, name}
	}
	return rows
}

// copyIn bulk-copies rows with mssql.CopyIn on q (a *sql.Tx or *sql.Conn)
// and returns the row count the server reported.
func copyIn(ctx context.Context, q interface {
	PrepareContext(context.Context, string) (*sql.Stmt, error)
}, table string, rows [][]any) (int64, error) {
	st, err := q.PrepareContext(ctx, mssql.CopyIn(table, mssql.BulkOptions{}, loadColumns...))
	if err != nil {
		return 0, err
	}
	defer st.Close()
	for _, r := range rows {
		if _, err := st.ExecContext(ctx, r...); err != nil {
			return 0, err
		}
	}
	res, err := st.ExecContext(ctx)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (r *bulkRig) committed(t *testing.T) int64 {
	t.Helper()
	n, ok := r.srv.CommittedRows("loads")
	require.True(t, ok)
	return n
}

// count is SELECT COUNT(*) FROM loads on q.
func count(t *testing.T, ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) int64 {
	t.Helper()
	var n int64
	require.NoError(t, q.QueryRowContext(ctx, "SELECT COUNT(*) FROM loads").Scan(&n))
	return n
}

// noSessionInTx asserts that no session on the server has a transaction
// open, within 10 s: a connection the pool closed because its transaction
// was cut short ends at the server only once the server has read the close
// (off the test's goroutine), and until then its session still shows the
// transaction. A session that keeps it fails the test.
func (r *bulkRig) noSessionInTx(t *testing.T) {
	t.Helper()
	assert.EventuallyWithT(t, func(c *assert.CollectT) {
		for _, s := range r.srv.Sessions() {
			assert.False(c, s.InTx, "session %d (%s) has a transaction open", s.SPID, s.Login)
		}
	}, 10*time.Second, time.Millisecond)
}

func TestBulkCopyInATransactionLandsAsTheCallersIdentity(t *testing.T) {
	r := startBulkRig(t)
	ctx := ctxT(t)
	as := func(id tokens.Identity) context.Context { return tokens.WithIdentity(ctx, id) }

	want := map[string]int{aliceUPN: 40, bobUPN: 25}
	total := int64(0)
	for _, c := range []struct {
		id    tokens.Identity
		login string
	}{{r.alice, aliceUPN}, {r.bob, bobUPN}} {
		tx, err := r.db.BeginTx(as(c.id), nil)
		require.NoError(t, err)
		var who string
		require.NoError(t, tx.QueryRowContext(as(c.id), "SELECT SUSER_SNAME()").Scan(&who))
		require.Equal(t, c.login, who)
		n, err := copyIn(as(c.id), tx, "loads", loadRows(want[c.login], c.login))
		require.NoError(t, err, c.login)
		require.EqualValues(t, want[c.login], n, "the server's count of %s's rows", c.login)
		require.Equal(t, total+n, count(t, as(c.id), tx), "the transaction sees its rows")
		require.Equal(t, total, r.committed(t), "nothing is committed before Commit")
		require.NoError(t, tx.Commit())
		total += n
	}
	require.Equal(t, total, r.committed(t))
	require.Equal(t, total, count(t, ctx, r.db))
	assert.EqualValues(t, 40, r.srv.CommittedRowsBy("loads", aliceUPN))
	assert.EqualValues(t, 25, r.srv.CommittedRowsBy("loads", bobUPN))
	assert.Zero(t, r.srv.CommittedRowsBy("loads", "app"), "no row went in as the default identity")

	// A rolled-back copy leaves nothing.
	tx, err := r.db.BeginTx(as(r.alice), nil)
	require.NoError(t, err)
	_, err = copyIn(as(r.alice), tx, "loads", loadRows(500, "rolled back"))
	require.NoError(t, err)
	require.Equal(t, total+500, count(t, as(r.alice), tx))
	require.NoError(t, tx.Rollback())
	require.Equal(t, total, r.committed(t))
	require.Equal(t, total, count(t, as(r.alice), r.db))
	assert.EqualValues(t, 40, r.srv.CommittedRowsBy("loads", aliceUPN))

	// On a *sql.Conn, outside a transaction, each copy commits by itself.
	conn, err := r.db.Conn(as(r.bob))
	require.NoError(t, err)
	_, err = copyIn(as(r.bob), conn, "loads", loadRows(7, "autocommit"))
	require.NoError(t, err)
	require.NoError(t, conn.Close())
	require.Equal(t, total+7, r.committed(t))
	assert.EqualValues(t, 32, r.srv.CommittedRowsBy("loads", bobUPN))
	r.noSessionInTx(t)
}

// TestCreateBulkContextThroughConnRaw: the facade's driver connection is
// idpool's *manager.Conn, never go-mssqldb's own: the lease guard stands
// between database/sql and the physical connection, so go-mssqldb's idiom
// dc.(*mssql.Conn) in (*sql.Conn).Raw does not apply. Its *mssql.Conn is
// reached through the lease, as README says: Lease.WithRaw runs the copy
// inside the lease guard, which checks the ctx's identity.
func TestCreateBulkContextThroughConnRaw(t *testing.T) {
	r := startBulkRig(t)
	ctx := ctxT(t)
	aliceCtx := tokens.WithIdentity(ctx, r.alice)
	conn, err := r.db.Conn(aliceCtx)
	require.NoError(t, err)
	defer conn.Close()

	var rowCount int64
	err = conn.Raw(func(dc any) error {
		if _, ok := dc.(*mssql.Conn); ok {
			return errors.New("the facade handed database/sql's caller the physical connection, past the lease guard")
		}
		mc, ok := dc.(*manager.Conn)
		if !ok {
			return errors.New("the facade's driver connection is not a *manager.Conn")
		}
		if mc.Lease() == nil {
			return errors.New("no lease behind the *sql.Conn")
		}
		return mc.Lease().WithRaw(aliceCtx, func(raw driver.Conn) error {
			b := raw.(*mssql.Conn).CreateBulkContext(aliceCtx, "loads", loadColumns)
			for _, row := range loadRows(12, "raw") {
				if err := b.AddRow(row); err != nil {
					return err
				}
			}
			var err error
			rowCount, err = b.Done()
			return err
		})
	})
	require.NoError(t, err)
	require.EqualValues(t, 12, rowCount)
	require.EqualValues(t, 12, r.committed(t))
	require.EqualValues(t, 12, r.srv.CommittedRowsBy("loads", aliceUPN))

	// The guard refuses the raw connection to a ctx of another identity.
	err = conn.Raw(func(dc any) error {
		return dc.(*manager.Conn).Lease().WithRaw(tokens.WithIdentity(ctx, r.bob), func(raw driver.Conn) error {
			return raw.(*mssql.Conn).CreateBulkContext(ctx, "loads", loadColumns).AddRow([]any{1, 2, "bob"})
		})
	})
	require.ErrorIs(t, err, manager.ErrIdentityMismatch)
	require.EqualValues(t, 12, r.committed(t))
	require.Zero(t, r.srv.CommittedRowsBy("loads", bobUPN))
}

// TestBulkCopyCutShortByItsCtx: a copy whose ctx ends between rows commits
// nothing, and the identity's next lease (its pool holds one connection, so
// it waits for this one's release) has no transaction open, and copies.
func TestBulkCopyCutShortByItsCtx(t *testing.T) {
	for name, rows := range map[string]int{
		// Rows still in go-mssqldb's buffer when the ctx ends.
		"within a packet": 3,
		// Rows past many packets: the server holds part of a BULK_LOAD
		// message when the client turns to the rollback.
		"packets already sent": 2000,
	} {
		t.Run(name, func(t *testing.T) {
			r := startBulkRig(t)
			ctx := ctxT(t)
			aliceCtx := tokens.WithIdentity(ctx, r.alice)
			cctx, cancel := context.WithCancel(aliceCtx)
			defer cancel()

			tx, err := r.db.BeginTx(cctx, nil)
			require.NoError(t, err)
			st, err := tx.PrepareContext(cctx, mssql.CopyIn("loads", mssql.BulkOptions{}, loadColumns...))
			require.NoError(t, err)
			for _, row := range loadRows(rows, strings.Repeat("z", 20)) {
				_, err := st.ExecContext(cctx, row...)
				require.NoError(t, err)
			}
			cancel()
			_, err = st.ExecContext(cctx)
			require.Error(t, err, "the copy's final Exec ran after its ctx ended")
			require.Error(t, tx.Commit())

			// The next lease of alice's one connection.
			conn, err := r.db.Conn(aliceCtx)
			require.NoError(t, err)
			defer conn.Close()
			var trancount int
			require.NoError(t, conn.QueryRowContext(aliceCtx, "SELECT @@TRANCOUNT").Scan(&trancount))
			require.Zero(t, trancount, "the next lease's session has a transaction open")
			r.noSessionInTx(t)
			require.Zero(t, r.committed(t), "rows of a copy cut short were committed")
			require.Zero(t, count(t, aliceCtx, conn))

			n, err := copyIn(aliceCtx, conn, "loads", loadRows(4, "after"))
			require.NoError(t, err)
			require.EqualValues(t, 4, n)
			require.EqualValues(t, 4, r.srv.CommittedRowsBy("loads", aliceUPN))
		})
	}
}

// TestBulkCopyErrorsThroughTheFacade: a copy to a table that does not
// exist, a row go-mssqldb cannot convert, and rows the server refuses each
// fail with a clear error, commit nothing, and leave the pool serving the
// identity (its one connection).
func TestBulkCopyErrorsThroughTheFacade(t *testing.T) {
	r := startBulkRig(t)
	ctx := ctxT(t)
	aliceCtx := tokens.WithIdentity(ctx, r.alice)

	for _, c := range []struct {
		name, table string
		rows        [][]any
		number      int32  // the server's error, or
		client      string // go-mssqldb's own
	}{
		{"no such table", "nope", loadRows(2, "x"), 208, ""},
		{"a string for an int column", "loads", [][]any{{1, 2, "ok"}, {"three", 4, "x"}}, 0, "invalid type for int column"},
		{"NULL into a NOT NULL column", "loads", [][]any{{1, 2, "ok"}, {nil, 4, "x"}}, 515, ""},
		{"a string longer than its column", "loads", [][]any{{1, 2, strings.Repeat("x", 21)}}, 4815, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			tx, err := r.db.BeginTx(aliceCtx, nil)
			require.NoError(t, err)
			_, err = copyIn(aliceCtx, tx, c.table, c.rows)
			if c.number != 0 {
				var me mssql.Error
				require.True(t, errors.As(err, &me), "want mssql.Error %d, got %T: %v", c.number, err, err)
				require.EqualValues(t, c.number, me.Number, me.Message)
			} else {
				require.ErrorContains(t, err, c.client)
			}
			require.NoError(t, tx.Rollback())

			var who string
			require.NoError(t, r.db.QueryRowContext(aliceCtx, "SELECT SUSER_SNAME()").Scan(&who), "the pool still serves")
			require.Equal(t, aliceUPN, who)
			require.Zero(t, r.committed(t))
			r.noSessionInTx(t)
		})
	}

	// The same one connection copies after all that.
	tx, err := r.db.BeginTx(aliceCtx, nil)
	require.NoError(t, err)
	_, err = copyIn(aliceCtx, tx, "loads", loadRows(3, "good"))
	require.NoError(t, err)
	require.NoError(t, tx.Commit())
	require.EqualValues(t, 3, r.srv.CommittedRowsBy("loads", aliceUPN))
	assert.Empty(t, r.db.Manager.Stats().Total.Closes, "no connection was closed")
}
