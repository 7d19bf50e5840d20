package tds_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// copyIn bulk-copies rows into table's columns on q (a *sql.Tx or
// *sql.Conn) with go-mssqldb's CopyIn and returns the row count the server
// reported.
func copyIn(ctx context.Context, q interface {
	PrepareContext(context.Context, string) (*sql.Stmt, error)
}, table string, cols []string, rows [][]any) (int64, error) {
	st, err := q.PrepareContext(ctx, mssql.CopyIn(table, mssql.BulkOptions{}, cols...))
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

func numberedRows(n int, name string) [][]any {
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{int64(i), int64(i) << 33, name}
	}
	return rows
}

func committed(t *testing.T, srv interface{ CommittedRows(string) (int64, bool) }, table string) int64 {
	t.Helper()
	n, ok := srv.CommittedRows(table)
	require.True(t, ok, "table %s", table)
	return n
}

func TestBulkCopyCommitsRollsBackAndCountsAsTheLogin(t *testing.T) {
	srv := startServer(t)
	ctx := ctxT(t)
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	_, err := db.ExecContext(ctx, "CREATE TABLE loads (id int NOT NULL, big bigint, name nvarchar(40))")
	require.NoError(t, err)
	cols := []string{"id", "big", "name"}

	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	n, err := copyIn(ctx, tx, "loads", cols, numberedRows(100, "committed"))
	require.NoError(t, err)
	require.EqualValues(t, 100, n, "the DONE counts the rows")
	require.Zero(t, committed(t, srv, "loads"), "rows are the transaction's until it commits")
	require.EqualValues(t, 100, count(t, ctx, tx, "loads"), "the transaction sees its own rows")
	require.NoError(t, tx.Commit())
	require.EqualValues(t, 100, committed(t, srv, "loads"))
	require.EqualValues(t, 100, srv.CommittedRowsBy("loads", "alice"))

	tx, err = db.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = copyIn(ctx, tx, "loads", cols, numberedRows(30, "rolled back"))
	require.NoError(t, err)
	require.EqualValues(t, 130, count(t, ctx, tx, "loads"))
	require.NoError(t, tx.Rollback())
	require.EqualValues(t, 100, committed(t, srv, "loads"), "a rollback undoes a bulk load")
	require.EqualValues(t, 100, count(t, ctx, db, "loads"))

	// Outside a transaction each load commits on its own.
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = copyIn(ctx, conn, "loads", cols, numberedRows(5, "autocommit"))
	require.NoError(t, err)
	require.EqualValues(t, 105, committed(t, srv, "loads"))

	// A load far larger than a packet arrives in many; it is one message.
	long := strings.Repeat("x", 40)
	_, err = copyIn(ctx, conn, "loads", cols, numberedRows(3000, long))
	require.NoError(t, err)
	require.EqualValues(t, 3105, committed(t, srv, "loads"))
	require.EqualValues(t, 3105, srv.CommittedRowsBy("loads", "alice"))
	require.Zero(t, srv.CommittedRowsBy("loads", "bob"))
}

func TestBulkCopyIntoATemporaryTable(t *testing.T) {
	srv := startServer(t)
	ctx := ctxT(t)
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, "CREATE TABLE #stage (id int, name nvarchar(max))")
	require.NoError(t, err)
	n, err := copyIn(ctx, conn, "#stage", []string{"id", "name"}, [][]any{{1, strings.Repeat("y", 5000)}, {2, nil}})
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	require.EqualValues(t, 2, count(t, ctx, conn, "#stage"))
}

func TestBulkCopyErrorsKeepTheConnection(t *testing.T) {
	srv := startServer(t)
	ctx := ctxT(t)
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	db.SetMaxOpenConns(1)
	_, err := db.ExecContext(ctx, "CREATE TABLE strict (id int NOT NULL, name nvarchar(5), at datetime)")
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, "CREATE TABLE plain (id int NOT NULL, name nvarchar(5))")
	require.NoError(t, err)
	var spid int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT @@SPID").Scan(&spid))

	for _, c := range []struct {
		name, table string
		cols        []string
		rows        [][]any
		number      int32  // the server's error, or
		client      string // go-mssqldb's own
	}{
		{"no such table", "nope", []string{"id"}, [][]any{{1}}, 208, ""},
		{"a column type the simulator does not load", "strict", []string{"id"}, [][]any{{1}}, 40517, ""},
		{"no such column", "plain", []string{"id", "nope"}, [][]any{{1, 2}}, 0, "column nope does not exist"},
		{"NULL into NOT NULL", "plain", []string{"id", "name"}, [][]any{{1, "a"}, {nil, "b"}}, 515, ""},
		{"string too long", "plain", []string{"id", "name"}, [][]any{{1, "abcdef"}}, 4815, ""},
		{"wrong Go type", "plain", []string{"id", "name"}, [][]any{{"one", "a"}}, 0, "invalid type for int column"},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := db.Conn(ctx)
			require.NoError(t, err)
			defer conn.Close()
			_, err = copyIn(ctx, conn, c.table, c.cols, c.rows)
			if c.number != 0 {
				requireSQLError(t, err, c.number)
			} else {
				require.ErrorContains(t, err, c.client)
			}
			var again int
			require.NoError(t, conn.QueryRowContext(ctx, "SELECT @@SPID").Scan(&again), "the connection serves after the error")
		})
	}
	require.Zero(t, committed(t, srv, "plain"))
	require.Zero(t, committed(t, srv, "strict"))
	// The good load after all that, on the same session.
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	var again int
	require.NoError(t, conn.QueryRowContext(ctx, "SELECT @@SPID").Scan(&again))
	_, err = copyIn(ctx, conn, "plain", []string{"name", "id"}, [][]any{{"ok", 1}})
	require.NoError(t, err)
	require.EqualValues(t, 1, committed(t, srv, "plain"))
	require.Equal(t, spid, again, "every error kept the one connection")
}

func TestSelectStarDescribesTheTable(t *testing.T) {
	srv := startServer(t)
	ctx := ctxT(t)
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	db.SetMaxOpenConns(1)
	_, err := db.ExecContext(ctx, "CREATE TABLE d (id int NOT NULL PRIMARY KEY, name nvarchar(20) NULL, blob varbinary(max), CONSTRAINT u UNIQUE (name))")
	require.NoError(t, err)

	describe := func(q string) []*sql.ColumnType {
		t.Helper()
		rows, err := db.QueryContext(ctx, q)
		require.NoError(t, err)
		defer rows.Close()
		ct, err := rows.ColumnTypes()
		require.NoError(t, err)
		require.False(t, rows.Next(), "no rows")
		require.NoError(t, rows.Err())
		return ct
	}
	ct := describe("SELECT * FROM d")
	require.Len(t, ct, 3)
	var names, types []string
	for _, c := range ct {
		names, types = append(names, c.Name()), append(types, c.DatabaseTypeName())
	}
	assert.Equal(t, []string{"id", "name", "blob"}, names)
	assert.Equal(t, []string{"INT", "NVARCHAR", "VARBINARY"}, types)
	nullable, ok := ct[0].Nullable()
	assert.True(t, ok)
	assert.False(t, nullable, "id is NOT NULL")
	length, ok := ct[1].Length()
	assert.True(t, ok)
	assert.EqualValues(t, 20, length)

	_, err = db.ExecContext(ctx, "INSERT INTO d VALUES (1, 'a', 0x01)")
	require.NoError(t, err)
	// The simulator keeps no values: rows it cannot send are refused,
	// the metadata queries still answer.
	_, err = db.QueryContext(ctx, "SELECT * FROM d")
	requireSQLError(t, err, 40517)
	require.Len(t, describe("SELECT * FROM d WHERE 1 = 0"), 3)

	// go-mssqldb's bulk copy asks so: FMTONLY ON, then SELECT *.
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, "SET FMTONLY ON")
	require.NoError(t, err)
	require.Len(t, describeOn(t, ctx, conn, "SELECT * FROM d"), 3)
	_, err = conn.ExecContext(ctx, "INSERT INTO d VALUES (2, 'b', 0x02)")
	require.NoError(t, err)
	require.EqualValues(t, 1, committed(t, srv, "d"), "under FMTONLY an INSERT inserts nothing")
	require.Len(t, describeOn(t, ctx, conn, "SELECT * FROM d SET FMTONLY OFF"), 3)
	_, err = conn.QueryContext(ctx, "SELECT * FROM d")
	requireSQLError(t, err, 40517)
	_, err = conn.ExecContext(ctx, "SET FMTONLY ON")
	require.NoError(t, err)
	require.NoError(t, conn.Close())
	// The reset of the connection's next checkout turns FMTONLY off.
	_, err = db.QueryContext(ctx, "SELECT * FROM d")
	requireSQLError(t, err, 40517)
}

func describeOn(t *testing.T, ctx context.Context, conn *sql.Conn, q string) []*sql.ColumnType {
	t.Helper()
	rows, err := conn.QueryContext(ctx, q)
	require.NoError(t, err)
	defer rows.Close()
	ct, err := rows.ColumnTypes()
	require.NoError(t, err)
	require.False(t, rows.Next(), "no rows")
	require.NoError(t, rows.Err())
	return ct
}
