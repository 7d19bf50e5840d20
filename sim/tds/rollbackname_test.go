package tds_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRollbackToUnknownName: a ROLLBACK TRANSACTION whose name is neither
// a savepoint's nor the outermost BEGIN TRANSACTION's is error 6401 "Cannot
// roll back <name>. No transaction or savepoint of that name was found.",
// and the transaction stays as it was (ROLLBACK TRANSACTION, Microsoft
// Learn: when nesting, transaction_name must be the outermost BEGIN's; the
// name is case sensitive). The simulator rolled everything back instead.
func TestRollbackToUnknownName(t *testing.T) {
	sess := newAliceSession(t)
	conn, ctx := sess.conn, sess.ctx
	var err error
	_, err = conn.ExecContext(ctx, "CREATE TABLE t (id int)")
	require.NoError(t, err)

	for _, c := range []struct{ name, setup, rollback string }{
		{"no such name", "BEGIN TRAN", "ROLLBACK TRAN nope"},
		{"an inner BEGIN's name", "BEGIN TRAN outer_tx; BEGIN TRAN inner_tx", "ROLLBACK TRAN inner_tx"},
		{"a name in another case", "BEGIN TRAN Tx; SAVE TRAN Sp", "ROLLBACK TRANSACTION sp"},
		{"a savepoint a rollback discarded", "BEGIN TRAN; SAVE TRAN first; SAVE TRAN second; ROLLBACK TRAN first", "ROLLBACK TRAN second"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := conn.ExecContext(ctx, c.setup+"; INSERT INTO t VALUES (1)")
			require.NoError(t, err)
			before := trancount(t, ctx, conn)
			_, err = conn.ExecContext(ctx, c.rollback+"; SELECT 1")
			requireSQLError(t, err, 6401)
			assert.Contains(t, err.Error(), "No transaction or savepoint of that name was found.")
			assert.Equal(t, before, trancount(t, ctx, conn), "the transaction is kept")
			assert.Equal(t, 1, count(t, ctx, conn, "t"), "nothing is rolled back")
			_, err = conn.ExecContext(ctx, "ROLLBACK")
			require.NoError(t, err)
			assert.Equal(t, 0, count(t, ctx, conn, "t"))
		})
	}
}
