package tds_test

import (
	"database/sql"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWrittenTranNameTooLong: a transaction or savepoint name written in
// the statement (not a variable) may have at most 32 characters; a longer
// one is error 103, a compile error, so none of the batch runs (BEGIN
// TRANSACTION: "identifiers longer than 32 characters are not allowed";
// COMMIT TRANSACTION: "can't exceed 32 characters"; SAVE TRANSACTION:
// "limited to 32 characters", Microsoft Learn). The simulator cut such a
// name to 32 characters and ran the statement. A variable's value is still
// cut, as those pages say.
func TestWrittenTranNameTooLong(t *testing.T) {
	sess := newAliceSession(t)
	conn, ctx := sess.conn, sess.ctx
	_, err := conn.ExecContext(ctx, "CREATE TABLE t (id int)")
	require.NoError(t, err)

	name32 := strings.Repeat("n", 32)
	long := name32 + "x"
	for _, q := range []string{
		"BEGIN TRAN " + long,
		"BEGIN TRANSACTION [" + long + "]",
		"BEGIN TRAN; COMMIT TRAN " + long,
		"BEGIN TRAN; ROLLBACK TRANSACTION " + long,
		"BEGIN TRAN; SAVE TRAN " + long,
		"BEGIN TRAN " + strings.Repeat("y", 10000), // a careless caller's huge name
	} {
		t.Run(q[:min(len(q), 50)], func(t *testing.T) {
			_, err := conn.ExecContext(ctx, "INSERT INTO t VALUES (1); "+q)
			requireSQLError(t, err, 103)
			assert.Contains(t, err.Error(), "is too long. Maximum length is 32.")
			assert.Less(t, len(err.Error()), 200, "the message quotes the name's start only")
			assert.Equal(t, 0, trancount(t, ctx, conn), "none of the batch ran")
			assert.Equal(t, 0, count(t, ctx, conn, "t"))
		})
	}

	// 32 characters are allowed, written or bracketed.
	_, err = conn.ExecContext(ctx, "BEGIN TRAN "+name32+"; SAVE TRAN ["+name32+"]; COMMIT TRAN "+name32)
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, "BEGIN TRAN "+name32+"; INSERT INTO t VALUES (1); ROLLBACK TRAN "+name32)
	require.NoError(t, err)
	assert.Equal(t, 0, trancount(t, ctx, conn))
	assert.Equal(t, 0, count(t, ctx, conn, "t"))

	// A variable's longer value is cut to its first 32 characters.
	_, err = conn.ExecContext(ctx, "BEGIN TRAN @n; INSERT INTO t VALUES (1); ROLLBACK TRAN "+name32, sql.Named("n", long))
	require.NoError(t, err)
	assert.Equal(t, 0, trancount(t, ctx, conn))
	assert.Equal(t, 0, count(t, ctx, conn, "t"))
}
