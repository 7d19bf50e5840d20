package tds

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"
)

// FreeTDS (freebcp, db-lib's bcp_*, pymssql) ends a BULK_LOAD message after
// its last ROW, with no DONE token: its tds_bcp_done only flushes the
// packet. SQL Server loads such a message, so the simulator must too; it
// answered it with error 4002 and closed the connection, which freebcp
// reported as "2 rows copied" while no row was.
func TestBulkLoadWithoutDoneLoadsItsRows(t *testing.T) {
	c := captureClient(t)
	srv := startRawServer(t, Options{})
	r := dialRaw(t, srv)
	r.login(c)
	r.send(pktSQLBatch, 0, batchPayload("CREATE TABLE fb (id int, name nvarchar(10))"))
	_, isErr := firstError(r.reply())
	require.False(t, isErr)
	insert := "insert bulk fb ([id] INT, [name] NVARCHAR(10))"

	for _, tc := range []struct {
		name string
		rows [][]byte
	}{
		{"two rows", [][]byte{append(intVal(1), nvarcharVal("abc")...), append(intVal(2), nvarcharVal("def")...)}},
		{"no rows", nil},
	} {
		full := bulkMessage([][2]any{intCol, nameCol}, tc.rows...)
		noDone := full[:len(full)-13] // as FreeTDS sends it
		before, _ := srv.CommittedRows("fb")
		r.send(pktSQLBatch, 0, batchPayload(insert))
		_, isErr = firstError(r.reply())
		require.False(t, isErr, tc.name)
		r.send(pktBulkLoad, 0, noDone)
		m := r.reply()
		if _, isErr = firstError(m); isErr {
			t.Fatalf("%s: %s", tc.name, errorText(t, m.data))
		}
		require.Equal(t, tokDone, m.data[0], tc.name)
		require.EqualValues(t, len(tc.rows), binary.LittleEndian.Uint64(m.data[5:]), tc.name)
		after, _ := srv.CommittedRows("fb")
		require.EqualValues(t, len(tc.rows), after-before, tc.name)
	}
	// The connection is still in step.
	r.send(pktSQLBatch, 0, batchPayload("SELECT 1"))
	require.Equal(t, tokColMetadata, r.reply().data[0])
}
