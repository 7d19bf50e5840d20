package tds_test

import (
	"database/sql"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPrepareExecuteUnprepare: sp_prepare, sp_execute and sp_unprepare, the
// RPCs JDBC and older ODBC drivers prepare statements with, here called by
// name through go-mssqldb. sp_prepare compiles a statement and returns its
// handle in its @handle OUTPUT parameter; sp_execute runs it with values
// by position; sp_unprepare drops it; a handle the session does not hold is
// error 8179. The simulator answered all three with error 2812, as if the
// procedures did not exist.
func TestPrepareExecuteUnprepare(t *testing.T) {
	sess := newAliceSession(t)
	db, conn, ctx := sess.db, sess.conn, sess.ctx
	var err error
	_, err = conn.ExecContext(ctx, "CREATE TABLE t (id int)")
	require.NoError(t, err)

	var sel, ins int32
	_, err = conn.ExecContext(ctx, "sp_prepare", sql.Named("handle", sql.Out{Dest: &sel}),
		sql.Named("params", "@a int, @b nvarchar(10)"), sql.Named("stmt", "SELECT @a AS a, @b AS b"), sql.Named("options", 1))
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, "sp_prepare", sql.Named("handle", sql.Out{Dest: &ins}),
		sql.Named("params", "@id int"), sql.Named("stmt", "INSERT INTO t VALUES (@id)"))
	require.NoError(t, err)
	assert.Positive(t, sel)
	assert.NotEqual(t, sel, ins, "each prepared statement has a handle of its own")

	var a int
	var b string
	require.NoError(t, conn.QueryRowContext(ctx, "sp_execute", sel, 7, "seven").Scan(&a, &b))
	assert.Equal(t, 7, a)
	assert.Equal(t, "seven", b)
	require.NoError(t, conn.QueryRowContext(ctx, "sp_execute", sel, 8, "eight").Scan(&a, &b), "a prepared statement runs again")
	assert.Equal(t, 8, a)
	res, err := conn.ExecContext(ctx, "sp_execute", ins, 1)
	require.NoError(t, err)
	n, err := res.RowsAffected()
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)
	assert.Equal(t, 1, count(t, ctx, conn, "t"))

	_, err = conn.ExecContext(ctx, "sp_unprepare", sel)
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, "sp_execute", sel, 9, "nine")
	requireSQLError(t, err, 8179)
	assert.Contains(t, err.Error(), "Could not find prepared statement with handle")
	_, err = conn.ExecContext(ctx, "sp_unprepare", sel)
	requireSQLError(t, err, 8179)
	_, err = conn.ExecContext(ctx, "sp_execute", int32(424242))
	requireSQLError(t, err, 8179)

	// A handle belongs to its session.
	other, err := db.Conn(ctx)
	require.NoError(t, err)
	defer other.Close()
	_, err = other.ExecContext(ctx, "sp_execute", ins, 2)
	requireSQLError(t, err, 8179)

	// A statement that does not compile gets no handle.
	var bad int32
	_, err = conn.ExecContext(ctx, "sp_prepare", sql.Named("handle", sql.Out{Dest: &bad}),
		sql.Named("params", ""), sql.Named("stmt", "SELEKT 1"))
	requireSQLError(t, err, 102)
}
