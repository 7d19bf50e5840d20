package tds_test

import (
	"database/sql"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExecuteBindsStatementParamsWhateverTheirNames: sp_execute takes the
// handle, then values for the prepared statement's own parameters, by
// position or as @name = value matching sp_prepare's declarations
// (sp_execute, Microsoft Learn). The simulator bound them with
// sp_executesql's binder behind the statement text and declarations, so a
// statement parameter named @stmt, @statement or @params collided with
// sp_executesql's own: passed by name it replaced the statement text or
// the declarations, and the call failed or ran the wrong text.
func TestExecuteBindsStatementParamsWhateverTheirNames(t *testing.T) {
	sess := newAliceSession(t)
	conn, ctx := sess.conn, sess.ctx

	var h int32
	_, err := conn.ExecContext(ctx, "sp_prepare", sql.Named("handle", sql.Out{Dest: &h}),
		sql.Named("params", "@stmt nvarchar(20), @params int, @statement int, @handle int"),
		sql.Named("stmt", "SELECT @stmt AS s, @params AS p, @statement AS st, @handle AS h"))
	require.NoError(t, err)

	scan := func(args ...any) (s string, p, st, hh int) {
		t.Helper()
		require.NoError(t, conn.QueryRowContext(ctx, "sp_execute", args...).Scan(&s, &p, &st, &hh))
		return
	}
	s, p, st, hh := scan(h, "by position", 1, 2, 3)
	assert.Equal(t, []any{"by position", 1, 2, 3}, []any{s, p, st, hh})
	s, p, st, hh = scan(h, sql.Named("params", 4), sql.Named("stmt", "by name"), sql.Named("handle", 6), sql.Named("statement", 5))
	assert.Equal(t, []any{"by name", 4, 5, 6}, []any{s, p, st, hh}, "named values bind to the statement's own parameters")
	s, p, st, hh = scan(h, "mixed", 7, sql.Named("handle", 9), sql.Named("statement", 8))
	assert.Equal(t, []any{"mixed", 7, 8, 9}, []any{s, p, st, hh})

	// The errors sp_executesql gives for its values, here for the prepared
	// statement's.
	_, err = conn.ExecContext(ctx, "sp_execute", h, "a", 1, 2)
	requireSQLError(t, err, 8178) // @handle not supplied
	_, err = conn.ExecContext(ctx, "sp_execute", h, "a", 1, 2, 3, 4)
	requireSQLError(t, err, 8144) // one too many
	_, err = conn.ExecContext(ctx, "sp_execute", h, "a", 1, 2, 3, sql.Named("stmt", "again"))
	requireSQLError(t, err, 8143) // @stmt twice
	_, err = conn.ExecContext(ctx, "sp_execute", h, sql.Named("stmt", "a"), 1)
	requireSQLError(t, err, 119) // by position after by name
}
