package tds_test

import (
	"database/sql"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRollbackWithoutTranTakesNoName: only ROLLBACK { TRAN | TRANSACTION }
// takes a transaction or savepoint name; ROLLBACK [ WORK ] takes none
// (ROLLBACK TRANSACTION and ROLLBACK WORK, Microsoft Learn), and the same
// holds for COMMIT [ WORK ]. So in "ROLLBACK foo" the word foo starts a
// statement of its own, which is not one: error 102 "Incorrect syntax near
// 'foo'.", and none of the batch runs. The simulator took foo for a
// savepoint and rolled back to it (or, for COMMIT, ignored it).
func TestRollbackWithoutTranTakesNoName(t *testing.T) {
	sess := newAliceSession(t)
	conn, ctx := sess.conn, sess.ctx
	_, err := conn.ExecContext(ctx, "CREATE TABLE t (id int)")
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, "BEGIN TRAN; SAVE TRAN foo; INSERT INTO t VALUES (1)")
	require.NoError(t, err)

	for _, c := range []struct {
		q    string
		args []any
		near string
	}{
		{q: "ROLLBACK foo", near: "foo"},
		{q: "ROLLBACK WORK foo", near: "foo"},
		{q: "COMMIT foo", near: "foo"},
		{q: "COMMIT WORK foo", near: "foo"},
		{q: "ROLLBACK @sp", args: []any{sql.Named("sp", "foo")}, near: "@sp"},
	} {
		t.Run(c.q, func(t *testing.T) {
			_, err := conn.ExecContext(ctx, "INSERT INTO t VALUES (2); "+c.q, c.args...)
			requireSQLError(t, err, 102)
			assert.Contains(t, err.Error(), "Incorrect syntax near '"+c.near+"'.")
			assert.Equal(t, 1, trancount(t, ctx, conn), "the transaction is kept")
			assert.Equal(t, 1, count(t, ctx, conn, "t"), "none of the batch ran")
		})
	}

	// A statement may follow ROLLBACK [WORK] without a semicolon.
	var one int
	require.NoError(t, conn.QueryRowContext(ctx, "ROLLBACK WORK SELECT 1").Scan(&one))
	assert.Equal(t, 0, trancount(t, ctx, conn))
	assert.Equal(t, 0, count(t, ctx, conn, "t"))
}
