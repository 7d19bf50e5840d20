package postgres

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRequestWatchFallsBackForAParseAfterANameChange: a Parse of a named
// statement (or of the unnamed one, where pgx caches its description)
// after SQL that changes what names resolve to makes the release run the
// full reset; one before it, or after SQL that merely names a column role
// or temp, does not: such a query would otherwise cost every lease that
// parses it a round trip, for good, since the full reset makes pgx forget
// it and the next lease parses it again. Nor does an unnamed Parse where
// pgx keeps nothing of it, such as CopyFrom's into a temporary table.
func TestRequestWatchFallsBackForAParseAfterANameChange(t *testing.T) {
	cached := func(sql string) []byte {
		return frame('P', "stmtcache_"+hexDigest(sql)+"\x00"+sql+"\x00\x00\x00")
	}
	const q = "SELECT * FROM items WHERE id > $1"
	for _, tc := range []struct {
		name        string
		sent        [][]byte
		dirty       bool
		unnamedKept bool
	}{
		{"no change", [][]byte{frame('Q', "SELECT 1"), cached(q)}, false, false},
		{"CREATE TEMP TABLE", [][]byte{frame('Q', "CREATE TEMP TABLE items (id int)"), cached(q)}, true, false},
		{"CREATE LOCAL TEMPORARY", [][]byte{frame('Q', "create local\n\ttemporary table items (id int)"), cached(q)}, true, false},
		{"SELECT INTO TEMP", [][]byte{frame('Q', "SELECT 1 AS id INTO TEMP items"), cached(q)}, true, false},
		{"pg_temp", [][]byte{frame('Q', "CREATE TABLE pg_temp.items (id int)"), cached(q)}, true, false},
		{"SET search_path", [][]byte{frame('Q', "SET search_path = tenant1"), cached(q)}, true, false},
		{"set_config search_path", [][]byte{cached("SELECT set_config('search_path', $1, false)"), cached(q)}, true, false},
		{"SET SCHEMA", [][]byte{frame('Q', "SET SCHEMA 'tenant1'"), cached(q)}, true, false},
		{"SET ROLE", [][]byte{frame('Q', "SET ROLE other"), cached(q)}, true, false},
		{"SET LOCAL ROLE", [][]byte{frame('Q', "BEGIN; SET LOCAL ROLE other"), cached(q)}, true, false},
		{"set_config role", [][]byte{frame('Q', "SELECT set_config('role', 'other', false)"), cached(q)}, true, false},
		{"SET SESSION AUTHORIZATION", [][]byte{frame('Q', "SET SESSION AUTHORIZATION other"), cached(q)}, true, false},
		{"a Parse that names the change itself", [][]byte{cached("SELECT * FROM pg_temp.items WHERE id > $1")}, true, false},
		{"an unnamed Parse, descriptions cached", [][]byte{frame('Q', "SET search_path = tenant1"), frame('P', "\x00"+q+"\x00\x00\x00")}, true, true},
		{"CopyFrom's unnamed Parse into a temporary table",
			[][]byte{frame('Q', "CREATE TEMP TABLE staging (id int)"), frame('P', "\x00select \"id\" from \"staging\"\x00\x00\x00")}, false, false},
		{"a change with no Parse after it", [][]byte{cached(q), frame('Q', "CREATE TEMP TABLE items (id int)")}, false, false},
		{"a column named role", [][]byte{cached("SELECT id, role FROM users WHERE id = $1")}, false, false},
		{"a column named temp", [][]byte{cached("SELECT temp, users.role FROM readings, users WHERE id = $1")}, false, false},
		{"a table of another schema", [][]byte{cached("SELECT * FROM information_schema.tables WHERE table_schema = $1")}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := requestWatch{unnamedKept: tc.unnamedKept}
			r.observe(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 8), 196608)) // the startup message
			for _, b := range tc.sent {
				r.observe(b)
			}
			require.False(t, r.lost)
			assert.Equal(t, tc.dirty, r.dirty)
		})
	}
}
