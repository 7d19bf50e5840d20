package tds_test

import (
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExecuteSQLParameters(t *testing.T) {
	srv := startServer(t)
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	ctx := ctxT(t)

	var n int64
	require.NoError(t, db.QueryRowContext(ctx, "SELECT @p1", 42).Scan(&n))
	assert.Equal(t, int64(42), n)
	require.NoError(t, db.QueryRowContext(ctx, "SELECT @p1", int32(-7)).Scan(&n))
	assert.Equal(t, int64(-7), n)

	var s string
	require.NoError(t, db.QueryRowContext(ctx, "SELECT @p1", "héllo wörld ✓").Scan(&s))
	assert.Equal(t, "héllo wörld ✓", s)
	require.NoError(t, db.QueryRowContext(ctx, "SELECT @p1", "").Scan(&s))
	assert.Equal(t, "", s)
	long := strings.Repeat("x", 5000)
	require.NoError(t, db.QueryRowContext(ctx, "SELECT @p1", long).Scan(&s))
	assert.Equal(t, long, s, "NVARCHAR(MAX) parameters travel as PLP")

	var ns sql.NullString
	require.NoError(t, db.QueryRowContext(ctx, "SELECT @p1", nil).Scan(&ns))
	assert.False(t, ns.Valid)

	var b bool
	var f float64
	var blob []byte
	require.NoError(t, db.QueryRowContext(ctx, "SELECT @p1, @p2, @p3", true, 2.5, []byte{1, 2, 3}).Scan(&b, &f, &blob))
	assert.True(t, b)
	assert.Equal(t, 2.5, f)
	assert.Equal(t, []byte{1, 2, 3}, blob)

	// Types the simulator does not interpret are echoed as sent.
	when := time.Date(2024, 5, 6, 7, 8, 9, 123400000, time.FixedZone("", 2*3600))
	var got time.Time
	require.NoError(t, db.QueryRowContext(ctx, "SELECT @p1", when).Scan(&got))
	assert.True(t, when.Equal(got), "got %v", got)

	require.NoError(t, db.QueryRowContext(ctx, "SELECT @x AS answer", sql.Named("x", 5)).Scan(&n))
	assert.Equal(t, int64(5), n)
	rows, err := db.QueryContext(ctx, "SELECT @p1 AS a, 'lit' AS b, @@TRANCOUNT", 1)
	require.NoError(t, err)
	cols, err := rows.Columns()
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", ""}, cols)
	require.NoError(t, rows.Close())
}

func TestSimpleWhere(t *testing.T) {
	srv := startServer(t)
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	ctx := ctxT(t)
	var one int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT 1 WHERE @p1 = @p1", 3).Scan(&one))
	assert.Equal(t, 1, one)
	err := db.QueryRowContext(ctx, "SELECT 1 WHERE @p1 = 2", 3).Scan(&one)
	assert.ErrorIs(t, err, sql.ErrNoRows)
	require.NoError(t, db.QueryRowContext(ctx, "SELECT 1 WHERE @p1 = 'ABC' AND @p2 > 1", "abc", 2).Scan(&one),
		"strings compare case-insensitively")
	err = db.QueryRowContext(ctx, "SELECT 1 WHERE @p1 = 1", nil).Scan(&one)
	assert.ErrorIs(t, err, sql.ErrNoRows, "NULL never compares equal")
	err = db.QueryRowContext(ctx, "SELECT 1 WHERE @p1 = 1", "abc").Scan(&one)
	requireSQLError(t, err, 245)
}

func TestParameterisedInsert(t *testing.T) {
	srv := startServer(t)
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	ctx := ctxT(t)
	_, err := db.ExecContext(ctx, "CREATE TABLE items (id int, name nvarchar(20))")
	require.NoError(t, err)
	res, err := db.ExecContext(ctx, "INSERT INTO items (id, name) VALUES (@p1, @p2), (@p1, @p2)", 1, "one")
	require.NoError(t, err)
	n, err := res.RowsAffected()
	require.NoError(t, err)
	assert.Equal(t, int64(2), n)
	var c int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT COUNT(*) FROM items").Scan(&c))
	assert.Equal(t, 2, c)
	_, err = db.ExecContext(ctx, "INSERT INTO items VALUES (@p9)", 1)
	requireSQLError(t, err, 137)
}

func TestErrorsKeepTheSession(t *testing.T) {
	srv := startServer(t)
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	db.SetMaxOpenConns(1)
	ctx := ctxT(t)
	cases := []struct {
		sql    string
		number int32
	}{
		{"SELEKT 1", 102},
		{"SELECT FROM", 102},
		{"SELECT 'unterminated", 102},
		{"SELECT COUNT(*) FROM nowhere", 208},
		{"INSERT INTO nowhere VALUES (1)", 208},
		{"SELECT @undeclared", 137},
		{"UPDATE t SET x = 1", 102},
		{"sp_who", 2812},
		{"SET IMPLICIT_TRANSACTIONS ON", 40517},
		{"SET NO_SUCH_OPTION ON", 195},
		{"SELECT 99999999999999999999", 8115},
	}
	for _, c := range cases {
		_, err := db.ExecContext(ctx, c.sql)
		requireSQLError(t, err, c.number)
	}
	_, err := db.ExecContext(ctx, "CREATE TABLE t (id int)")
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, "create table T (x int)")
	requireSQLError(t, err, 2714)
	var one int
	require.NoError(t, db.QueryRowContext(ctx, "select 1;").Scan(&one))
	assert.Equal(t, 1, srv.TotalLogins(), "errors never cost the session")
}

func TestMultiStatementBatch(t *testing.T) {
	srv := startServer(t)
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	ctx := ctxT(t)
	rows, err := db.QueryContext(ctx, `
		-- a comment
		SET NOCOUNT ON;
		SELECT 1 AS a /* inline */ ;
		SELECT N'two' AS b, -3 AS c, 1.5 AS d`)
	require.NoError(t, err)
	defer rows.Close()
	require.True(t, rows.Next())
	var a int
	require.NoError(t, rows.Scan(&a))
	assert.Equal(t, 1, a)
	require.False(t, rows.Next())
	require.True(t, rows.NextResultSet())
	require.True(t, rows.Next())
	var b string
	var c int
	var d float64
	require.NoError(t, rows.Scan(&b, &c, &d))
	assert.Equal(t, "two", b)
	assert.Equal(t, -3, c)
	assert.Equal(t, 1.5, d)
	require.NoError(t, rows.Err())
}
