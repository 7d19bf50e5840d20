package tds

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestPrepareByProcID: sp_prepare, sp_execute and sp_unprepare called by
// procedure id (11, 12, 15: the RPC ProcIDSwitch form, which the JDBC
// driver sends), with their arguments by position. The reply to sp_prepare
// carries the handle in a RETURNVALUE for its first parameter. The
// simulator answered error 2812 for all three.
func TestPrepareByProcID(t *testing.T) {
	c := captureClient(t)
	srv := startRawServer(t, Options{})
	r := dialRaw(t, srv)
	r.login(c)
	call := func(id uint16, out int, args ...callArg) []string {
		t.Helper()
		r.send(pktRPC, 0, procIDCall(id, out, args))
		return traceTokens(t, r.reply().data)
	}
	// Its @options 1 (RETURN_METADATA) describes the SELECT first
	// (preparemeta.go).
	assert.Equal(t, []string{"COLMETADATA 2", "DONEINPROC more|count cmd=0xC1 rows=0", "RETURNSTATUS 0", "RETURNVALUE @handle 1", "DONEPROC final cmd=0x00 rows=0"},
		call(11, 0, callArg{"", int32(0)}, callArg{"", "@a int, @b int"}, callArg{"", "SELECT @b, @a"}, callArg{"", int32(1)}))
	assert.Equal(t, []string{"COLMETADATA 2", "ROW 2 1", "DONEINPROC more|count cmd=0xC1 rows=1", "RETURNSTATUS 0", "DONEPROC final cmd=0x00 rows=0"},
		call(12, -1, callArg{"", int32(1)}, callArg{"", int32(1)}, callArg{"", int32(2)}))
	assert.Equal(t, []string{"ERROR 8178", "DONEPROC error cmd=0x00 rows=0"},
		call(12, -1, callArg{"", int32(1)}, callArg{"", int32(1)}), "a value missing")
	assert.Equal(t, []string{"RETURNSTATUS 0", "DONEPROC final cmd=0x00 rows=0"}, call(15, -1, callArg{"", int32(1)}))
	assert.Equal(t, []string{"ERROR 8179", "DONEPROC error cmd=0x00 rows=0"}, call(12, -1, callArg{"", int32(1)}))
	assert.Equal(t, []string{"ERROR 8179", "DONEPROC error cmd=0x00 rows=0"}, call(15, -1, callArg{"", int32(1)}))
}

// TestPreparedLimit: a session keeps at most maxPrepared prepared
// statements; the next sp_prepare gets error 50000 and sp_unprepare makes
// room again.
func TestPreparedLimit(t *testing.T) {
	c := captureClient(t)
	srv := startRawServer(t, Options{})
	r := dialRaw(t, srv)
	r.login(c)
	prepare := func() []string {
		r.send(pktRPC, 0, procIDCall(procPrepare, 0, []callArg{{"", int32(0)}, {"", nil}, {"", "SELECT 1"}}))
		return traceTokens(t, r.reply().data)
	}
	for range maxPrepared {
		if got := prepare(); got[0] != "RETURNSTATUS 0" {
			t.Fatalf("sp_prepare under the limit: %v", got)
		}
	}
	assert.Equal(t, []string{"ERROR 50000", "DONEPROC error cmd=0x00 rows=0"}, prepare())
	r.send(pktRPC, 0, procIDCall(procUnprepare, -1, []callArg{{"", int32(7)}}))
	assert.Equal(t, "RETURNSTATUS 0", traceTokens(t, r.reply().data)[0])
	assert.Equal(t, "RETURNVALUE @handle 1025", prepare()[1])
}
