package tds_test

import (
	"database/sql"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPrepareReturnMetadata: sp_prepare's @options 0x0001, RETURN_METADATA,
// "returns a description of the cursor result set columns" (sp_prepare,
// Microsoft Learn); FreeTDS sends it with every sp_prepare. With it the
// reply describes the statement's result set (its COLMETADATA, no rows)
// before the handle; without it, none. A value sp_prepare does not
// document is refused, and no handle is made. The simulator ignored
// @options whatever its value.
func TestPrepareReturnMetadata(t *testing.T) {
	sess := newAliceSession(t)
	conn, ctx := sess.conn, sess.ctx
	_, err := conn.ExecContext(ctx, "CREATE TABLE t (id bigint NOT NULL, name nvarchar(20))")
	require.NoError(t, err)

	// prepare calls sp_prepare through QueryContext and returns the
	// columns its reply described and the handle.
	prepare := func(decls, text string, options ...any) ([]*sql.ColumnType, int32, error) {
		t.Helper()
		var h int32
		args := []any{sql.Named("handle", sql.Out{Dest: &h}), sql.Named("params", decls), sql.Named("stmt", text)}
		if len(options) > 0 {
			args = append(args, sql.Named("options", options[0]))
		}
		rows, err := conn.QueryContext(ctx, "sp_prepare", args...)
		if err != nil {
			return nil, 0, err
		}
		cols, err := rows.ColumnTypes()
		require.NoError(t, err)
		assert.False(t, rows.Next(), "metadata only, no rows")
		require.NoError(t, rows.Close())
		return cols, h, rows.Err()
	}
	type col struct {
		name, typ string
		length    int64
	}
	describe := func(cols []*sql.ColumnType) []col {
		var out []col
		for _, c := range cols {
			n, _ := c.Length()
			out = append(out, col{c.Name(), c.DatabaseTypeName(), n})
		}
		return out
	}

	cols, h, err := prepare("@a int, @b nvarchar(10)", "SELECT @a AS a, @b AS b, 7 AS c", 1)
	require.NoError(t, err)
	assert.Equal(t, []col{{"a", "INT", 0}, {"b", "NVARCHAR", 10}, {"c", "INT", 0}}, describe(cols),
		"a parameter is described as declared")
	assert.Positive(t, h)
	var a, c int
	var b string
	require.NoError(t, conn.QueryRowContext(ctx, "sp_execute", h, 1, "one").Scan(&a, &b, &c), "the handle runs")
	assert.Equal(t, []any{1, "one", 7}, []any{a, b, c})

	cols, _, err = prepare("", "SELECT * FROM t", 1)
	require.NoError(t, err)
	assert.Equal(t, []col{{"id", "BIGINT", 0}, {"name", "NVARCHAR", 20}}, describe(cols))
	cols, _, err = prepare("", "SELECT COUNT(*) AS n FROM t", 1)
	require.NoError(t, err)
	assert.Equal(t, []col{{"n", "INT", 0}}, describe(cols))

	// No result set, no description; and none asked for.
	for _, opts := range [][]any{{1}, {0}, {nil}, {}} {
		cols, h, err = prepare("@id bigint", "INSERT INTO t VALUES (@id, NULL)", opts...)
		require.NoError(t, err)
		assert.Empty(t, cols, "options %v", opts)
		assert.Positive(t, h)
	}
	for _, opts := range [][]any{{0}, {nil}, {}} {
		cols, _, err = prepare("@a int", "SELECT @a AS a", opts...)
		require.NoError(t, err)
		assert.Empty(t, cols, "options %v", opts)
	}

	// A careless caller: an undocumented option, or not an int.
	_, _, err = prepare("", "SELECT 1 AS one", 2)
	requireSQLError(t, err, 50000)
	assert.Contains(t, err.Error(), "RETURN_METADATA")
	_, _, err = prepare("", "SELECT 1 AS one", "1")
	requireSQLError(t, err, 214)
	// A type the simulator does not model is refused, not described wrongly.
	_, _, err = prepare("@d datetime2(3)", "SELECT @d AS d", 1)
	requireSQLError(t, err, 50000)
	assert.Contains(t, err.Error(), "cannot describe parameter @d of type datetime2")
	// A table that does not exist cannot be described.
	_, _, err = prepare("", "SELECT * FROM nowhere", 1)
	requireSQLError(t, err, 208)
}
