package tds

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tmPayload is a TM request of type typ whose payload starts with the
// transaction name as [MS-TDS] 2.2.6.9 writes it: a B_VARBYTE, the byte
// length of the UTF-16 name, then the name (tedious's transaction() names
// every transaction "_tedious_<20 hex digits>").
func tmPayload(typ uint16, isolation byte, name string, rest ...byte) []byte {
	b := []byte{22, 0, 0, 0, 18, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}
	b = binary.LittleEndian.AppendUint16(b, typ)
	if typ == tmBeginXact {
		b = append(b, isolation)
	}
	b = append(b, byte(2*ucs2Len(name)))
	b = appendUCS2(b, name)
	return append(b, rest...)
}

// TestNamedTransactionManagerRequests: a TM request's transaction name is a
// B_VARBYTE, its length counted in bytes. The simulator read it as a
// B_VARCHAR, counted in characters, so a named BEGIN, COMMIT or ROLLBACK
// (tedious's beginTransaction with a name, and its transaction() helper,
// which always names) read past the name, was refused with error 4002 and
// lost its connection. go-mssqldb sends no name, where both agree.
func TestNamedTransactionManagerRequests(t *testing.T) {
	c := captureClient(t)
	srv := startRawServer(t, Options{})
	r := dialRaw(t, srv)
	r.login(c)
	name := "_tedious_0123456789abcdef0123"
	for _, step := range []struct {
		payload []byte
		want    string
	}{
		{tmPayload(tmBeginXact, 0, name), "ENVCHANGE 8"},
		{tmPayload(tmCommitXact, 0, name, 0), "ENVCHANGE 9"},
		{tmPayload(tmBeginXact, 2, name), "ENVCHANGE 8"},
		{tmPayload(tmRollbackXact, 0, name, 0), "ENVCHANGE 10"},
		// Commit, then at once a new transaction, named too.
		{tmPayload(tmBeginXact, 0, ""), "ENVCHANGE 8"},
		{tmPayload(tmCommitXact, 0, "", 1, 2, byte(2*ucs2Len(name))), "ENVCHANGE 9"},
	} {
		if step.payload[len(step.payload)-1] == byte(2*ucs2Len(name)) {
			step.payload = appendUCS2(step.payload, name)
		}
		r.send(pktTM, 0, step.payload)
		got := traceTokens(t, r.reply().data)
		require.NotEmpty(t, got)
		assert.Equal(t, step.want, got[0], "%v", got)
	}
	r.send(pktSQLBatch, 0, batchPayload("SELECT @@TRANCOUNT"))
	assert.Contains(t, traceTokens(t, r.reply().data), "ROW 1", "the commit began a new transaction")
}
