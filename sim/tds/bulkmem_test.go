package tds

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBulkLoadMemoryIsBoundedByTheMessage: reading a BULK_LOAD message
// allocates in proportion to its size, not to its rows times their
// columns. It kept every row as a []any of its values, so one message of
// Options.MaxMessageSize (4 MiB) packed with two-byte rows (a ROW token
// and a NULL) made the server allocate some 270 MiB: a few hostile
// clients, each loading such a message, could exhaust a test machine.
func TestBulkLoadMemoryIsBoundedByTheMessage(t *testing.T) {
	tg := &bulkTarget{table: tableName{text: "m"}, cols: []bulkTargetCol{{declared: sqlTypeOf("int", nil), col: columnDef{name: "id", typ: sqlTypeOf("int", nil)}}}}
	rows := make([][]byte, (defaultMaxMessage-64)/2)
	for i := range rows {
		rows[i] = []byte{0} // INTN NULL
	}
	msg := bulkMessage([][2]any{intCol}, rows...)
	require.LessOrEqual(t, len(msg), defaultMaxMessage)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n, ee, err := runBulkLoad(tg, msg)
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	require.Nil(t, ee)
	require.EqualValues(t, len(rows), n)
	allocated := after.TotalAlloc - before.TotalAlloc
	require.Less(t, allocated, uint64(len(msg)), "a %d-byte BULK_LOAD allocated %d bytes", len(msg), allocated)
}
