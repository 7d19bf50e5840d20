package tds

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTransactionManagerSavepoints: TM_SAVE_XACT (request type 9, [MS-TDS]
// 2.2.6.9), which tedious's saveTransaction sends and its transaction()
// helper sends when a transaction is already open, sets a savepoint; a
// TM_ROLLBACK_XACT naming it rolls back to it, with no ENVCHANGE (the
// transaction goes on: tedious would otherwise mark itself out of it), and
// one naming the transaction ends it. The simulator refused TM_SAVE_XACT
// with error 40517, so tedious's nested transaction() failed.
func TestTransactionManagerSavepoints(t *testing.T) {
	const tmSaveRequest uint16 = 9
	c := captureClient(t)
	srv := startRawServer(t, Options{})
	r := dialRaw(t, srv)
	r.login(c)
	batch := func(sql string) []string {
		t.Helper()
		r.send(pktSQLBatch, 0, batchPayload(sql))
		return traceTokens(t, r.reply().data)
	}
	tm := func(payload []byte) []string {
		t.Helper()
		r.send(pktTM, 0, payload)
		return traceTokens(t, r.reply().data)
	}
	outer, inner := "_tedious_0123456789abcdef0123", "_tedious_fedcba9876543210fedc"
	require.NotContains(t, batch("CREATE TABLE t (id int)"), "ERROR")

	// Outside a transaction: error 628.
	got := tm(tmPayload(tmSaveRequest, 0, inner))
	require.NotEmpty(t, got)
	assert.Equal(t, "ERROR 628", got[0], "%v", got)

	assert.Equal(t, "ENVCHANGE 8", tm(tmPayload(tmBeginXact, 0, outer))[0])
	batch("INSERT INTO t VALUES (1)")
	got = tm(tmPayload(tmSaveRequest, 0, inner))
	assert.Equal(t, []string{"DONE final cmd=0x00 rows=0"}, got)
	batch("INSERT INTO t VALUES (2), (3)")
	got = tm(tmPayload(tmRollbackXact, 0, inner, 0))
	assert.Equal(t, []string{"DONE final cmd=0x00 rows=0"}, got, "a rollback to a savepoint keeps the transaction")
	assert.Contains(t, batch("SELECT COUNT(*) FROM t"), "ROW 1")
	assert.Contains(t, batch("SELECT @@TRANCOUNT"), "ROW 1")

	// A savepoint's name is required ([MS-TDS]: "MUST specify a nonempty name").
	got = tm(tmPayload(tmSaveRequest, 0, ""))
	require.NotEmpty(t, got)
	assert.Regexp(t, "^ERROR ", got[0])

	// The transaction's own name rolls all of it back.
	got = tm(tmPayload(tmRollbackXact, 0, outer, 0))
	require.NotEmpty(t, got)
	assert.Equal(t, "ENVCHANGE 10", got[0])
	assert.Contains(t, batch("SELECT COUNT(*) FROM t"), "ROW 0")
	assert.Contains(t, batch("SELECT @@TRANCOUNT"), "ROW 0")
}

// TestTransactionManagerRollbackToUnknownName: a TM_ROLLBACK_XACT naming
// neither a savepoint nor the transaction is error 6401, as ROLLBACK
// TRANSACTION is, with no ENVCHANGE: the transaction goes on. The simulator
// rolled it all back.
func TestTransactionManagerRollbackToUnknownName(t *testing.T) {
	c := captureClient(t)
	srv := startRawServer(t, Options{})
	r := dialRaw(t, srv)
	r.login(c)
	r.send(pktTM, 0, tmPayload(tmBeginXact, 0, "_tedious_0123456789abcdef0123"))
	assert.Equal(t, "ENVCHANGE 8", traceTokens(t, r.reply().data)[0])
	r.send(pktTM, 0, tmPayload(tmRollbackXact, 0, "_tedious_ffffffffffffffffffff", 0))
	assert.Equal(t, []string{"ERROR 6401", "DONE error cmd=0x00 rows=0"}, traceTokens(t, r.reply().data))
	r.send(pktSQLBatch, 0, batchPayload("SELECT @@TRANCOUNT"))
	assert.Contains(t, traceTokens(t, r.reply().data), "ROW 1")
}
