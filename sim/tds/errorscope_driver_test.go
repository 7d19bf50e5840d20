package tds_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/golang-sql/sqlexp"
	mssql "github.com/microsoft/go-mssqldb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// What go-mssqldb makes of a batch that carries on after an error
// (errorscope.go). Through database/sql's plain API it reports the first
// error and drops the rest of the reply: a query whose first statement
// fails returns that error, and one whose later statement fails gives
// the earlier result sets, then the error from rows.Err. With a
// sqlexp.ReturnMessage it hands over every message in order: the error,
// then the later statements' result sets, read with rows.NextResultSet.

// messages runs q on conn with a sqlexp.ReturnMessage and lists what
// go-mssqldb delivered, in order: "error N", "rows", "row V...",
// "affected N". The values must be integers.
func messages(t *testing.T, ctx context.Context, conn *sql.Conn, q string, args ...any) []string {
	t.Helper()
	rm := &sqlexp.ReturnMessage{}
	rows, err := conn.QueryContext(ctx, q, append([]any{rm}, args...)...)
	require.NoError(t, err)
	defer func() { require.NoError(t, rows.Close()) }()
	var out []string
	for more := true; more; {
		switch m := rm.Message(ctx).(type) {
		case sqlexp.MsgNext:
			out = append(out, "rows")
			cols, err := rows.Columns()
			require.NoError(t, err)
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				require.NoError(t, rows.Scan(ptrs...))
				out = append(out, strings.TrimSpace(fmt.Sprintln(append([]any{"row"}, vals...)...)))
			}
		case sqlexp.MsgRowsAffected:
			out = append(out, fmt.Sprintf("affected %d", m.Count))
		case sqlexp.MsgError:
			var me mssql.Error
			require.ErrorAs(t, m.Error, &me)
			out = append(out, fmt.Sprintf("error %d", me.Number))
		case sqlexp.MsgNextResultSet:
			more = rows.NextResultSet()
		case sqlexp.MsgNotice:
		default:
			t.Fatalf("unexpected message %T", m)
		}
	}
	return out
}

func TestDriverSeesStatementsAfterAnError(t *testing.T) {
	srv := startServer(t)
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	ctx := ctxT(t)
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer func() { require.NoError(t, conn.Close()) }()
	var spid int
	require.NoError(t, conn.QueryRowContext(ctx, "SELECT @@SPID").Scan(&spid))

	t.Run("plain API: the first statement's error", func(t *testing.T) {
		_, err := conn.QueryContext(ctx, "ROLLBACK; SELECT 1")
		requireSQLError(t, err, 3903)
	})
	t.Run("plain API: rows, then the error", func(t *testing.T) {
		rows, err := conn.QueryContext(ctx, "SELECT 1; ROLLBACK; SELECT 2")
		require.NoError(t, err)
		var got []int
		for rows.Next() {
			var v int
			require.NoError(t, rows.Scan(&v))
			got = append(got, v)
		}
		requireSQLError(t, rows.Err(), 3903)
		assert.Equal(t, []int{1}, got)
		require.NoError(t, rows.Close())
	})
	t.Run("messages: the error, then the next result set", func(t *testing.T) {
		assert.Equal(t, []string{"error 3903", "rows", "row 1", "affected 1"}, messages(t, ctx, conn, "ROLLBACK; SELECT 1"))
	})
	t.Run("messages: errors between result sets", func(t *testing.T) {
		assert.Equal(t, []string{
			"rows", "row 1", "affected 1",
			"error 3903",
			"rows", "row 2", "affected 1",
			"error 3902",
			"rows", "row 3", "affected 1",
		}, messages(t, ctx, conn, "SELECT 1; ROLLBACK; SELECT 2; COMMIT; SELECT 3"))
	})
	t.Run("messages: a scope-aborting error ends the batch", func(t *testing.T) {
		assert.Equal(t, []string{"rows", "row 1", "affected 1", "error 208"},
			messages(t, ctx, conn, "SELECT 1; SELECT COUNT(*) FROM no_such_table; SELECT 2"))
	})
	t.Run("messages: a conversion error aborts the batch", func(t *testing.T) {
		assert.Equal(t, []string{"error 245"}, messages(t, ctx, conn, "SELECT 1 WHERE 1 = 'x'; SELECT 2"))
	})
	t.Run("parameters (RPC): the error, then the next result set", func(t *testing.T) {
		assert.Equal(t, []string{"error 3903", "rows", "row 5", "affected 1"}, messages(t, ctx, conn, "ROLLBACK; SELECT @p1", 5))
	})
	t.Run("EXEC sp_executesql in the batch", func(t *testing.T) {
		assert.Equal(t, []string{"rows", "row 7 it's", "affected 1", "rows", "row 2", "affected 1"}, messages(t, ctx, conn,
			"EXEC sp_executesql N'SELECT @p, @q', N'@p int, @q nvarchar(10)', 7, @q = N'it''s'; SELECT 2"))
	})
	t.Run("the connection is still in step", func(t *testing.T) {
		var got, again int
		require.NoError(t, conn.QueryRowContext(ctx, "SELECT @@SPID").Scan(&got))
		assert.Equal(t, spid, got, "the same session ran every query")
		require.NoError(t, conn.QueryRowContext(ctx, "SELECT 42").Scan(&again))
		assert.Equal(t, 42, again)
	})
}

// TestDriverXactAbort: go-mssqldb in a transaction under SET XACT_ABORT ON:
// the error aborts the batch and the server rolls the transaction back,
// which the driver notices (its descriptor is cleared by the ENVCHANGE).
func TestDriverXactAbort(t *testing.T) {
	srv := startServer(t)
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	ctx := ctxT(t)
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer func() { require.NoError(t, conn.Close()) }()
	_, err = conn.ExecContext(ctx, "CREATE TABLE #x (a int)")
	require.NoError(t, err)
	for _, c := range []struct {
		xactAbort string
		msgs      []string
		trancount int
		rows      int
	}{
		{"OFF", []string{"affected 1", "error 2714", "affected 1", "rows", "row 1", "affected 1"}, 1, 2},
		{"ON", []string{"affected 1", "error 2714"}, 0, 0},
	} {
		t.Run(c.xactAbort, func(t *testing.T) {
			_, err := conn.ExecContext(ctx, "SET XACT_ABORT "+c.xactAbort+"; BEGIN TRAN")
			require.NoError(t, err)
			assert.Equal(t, c.msgs, messages(t, ctx, conn, "INSERT INTO #x VALUES (1); CREATE TABLE #x (a int); INSERT INTO #x VALUES (2); SELECT @@TRANCOUNT"))
			var tc, n int
			require.NoError(t, conn.QueryRowContext(ctx, "SELECT @@TRANCOUNT").Scan(&tc))
			require.NoError(t, conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM #x").Scan(&n))
			assert.Equal(t, c.trancount, tc)
			assert.Equal(t, c.rows, n)
			_, err = conn.ExecContext(ctx, "IF @@TRANCOUNT > 0 ROLLBACK")
			require.NoError(t, err)
		})
	}
}
