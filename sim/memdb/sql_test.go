package memdb_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/memdb"
)

func TestSelects(t *testing.T) {
	db := memdb.New()
	c := dial(t, db, "msi:system", "tokA")

	for _, q := range []string{"SELECT 1", "  select   1 ", "Select\t1;", "\nSELECT 1 ;\n"} {
		v, err := query(t, c, q)
		require.NoError(t, err, q)
		assert.Equal(t, int64(1), v, q)
	}
	v, err := query(t, c, "select identity")
	require.NoError(t, err)
	assert.Equal(t, "msi:system", v)

	sqlLogin := dial(t, db, "", "")
	v, err = query(t, sqlLogin, "SELECT IDENTITY")
	require.NoError(t, err)
	assert.Equal(t, "", v)
}

func TestUnsupportedStatementsNameTheKind(t *testing.T) {
	db := memdb.New()
	c := dial(t, db, "msi:system", "tokA")
	for q, want := range map[string]string{
		"DELETE FROM t":    `"DELETE"`,
		"update t set":     `"UPDATE"`,
		"":                 "empty statement",
		"SELECT 2":         "SELECT 1",
		"SELECT COUNT":     "SELECT COUNT <table>",
		"INSERT":           "INSERT [INTO] <table>",
		"INSERT t extra":   "INSERT [INTO] <table>",
		"SLEEP soon":       "SLEEP <duration>",
		"SLEEP -1s":        "SLEEP <duration>",
		"BEGIN WORK NOW":   "BEGIN",
		"COMMIT PLEASE":    "COMMIT",
		"ROLLBACK SOMEHOW": "ROLLBACK",
	} {
		_, err := query(t, c, q)
		require.ErrorIs(t, err, memdb.ErrUnsupported, q)
		assert.Contains(t, err.Error(), want, q)
		require.Error(t, exec(t, c, q), q)
	}
	// An application error keeps the conn usable.
	v, err := query(t, c, "SELECT 1")
	require.NoError(t, err)
	assert.Equal(t, int64(1), v)
	assert.False(t, c.Info().Dead)
	assert.Equal(t, 0, db.Misuse())
}

func TestInsertAutocommitAndCount(t *testing.T) {
	db := memdb.New()
	a := dial(t, db, "msi:system", "tokA")
	b := dial(t, db, "msi:system", "tokA")
	res, err := a.ExecContext(context.Background(), "INSERT t", nil)
	require.NoError(t, err)
	n, err := res.RowsAffected()
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)
	require.NoError(t, exec(t, a, "insert into T"))
	require.NoError(t, exec(t, b, "INSERT other"))
	assert.Equal(t, int64(2), count(t, b, "t"))
	assert.Equal(t, int64(2), count(t, a, "T"))
	assert.Equal(t, 2, db.CommittedRows("t"))
	assert.Equal(t, 1, db.CommittedRows("OTHER"))
	assert.Equal(t, 0, db.CommittedRows("none"))
	// INSERT through Query gives an empty result set.
	v, err := query(t, a, "INSERT t")
	require.NoError(t, err)
	assert.Nil(t, v)
	assert.Equal(t, 3, db.CommittedRows("t"))
}
