package tds

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// varcharRPC is sp_executesql of stmt with one parameter @p varchar(100)
// whose value is the bytes data in the collation coll, as tedious and
// FreeTDS send a VarChar parameter: in the code page of the server's
// collation, announced at login.
func varcharRPC(stmt string, coll [5]byte, data []byte) []byte {
	b := rpcCall([]callArg{{"", stmt}, {"", "@p varchar(100)"}})
	b = appendBVarChar(b, "@p")
	b = append(b, 0, typBigVarChar, 100, 0)
	b = append(b, coll[:]...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(data)))
	return append(b, data...)
}

// TestVarcharParameterDecodedByItsCollation: a VARCHAR parameter's bytes
// are text in its collation's code page; SQL Server reads 0xE9 in
// SQL_Latin1_General_CP1_CI_AS (code page 1252) as "é". The simulator took
// the bytes for UTF-8, so tedious's or FreeTDS's "café" matched nothing
// (and came back as "caf\uFFFD"), while go-mssqldb's mssql.VarChar, which
// sends UTF-8 whatever the collation, worked against the simulator and
// turns to "cafÃ©" on SQL Server.
func TestVarcharParameterDecodedByItsCollation(t *testing.T) {
	c := captureClient(t)
	srv := startRawServer(t, Options{})
	r := dialRaw(t, srv)
	r.login(c)
	utf8Coll := collation
	utf8Coll[3] |= 0x04 // fUTF8: a _UTF8 collation (SQL Server 2019)
	utf8Coll[4] = 0     // a Windows collation: no SQL sort id
	for _, tc := range []struct {
		name string
		coll [5]byte
		data []byte
		stmt string
	}{
		{"code page 1252", collation, []byte("caf\xe9 \x80"), "SELECT 1 WHERE @p = N'café €'"},
		{"code page 1252, UTF-8 bytes", collation, []byte("café"), "SELECT 1 WHERE @p = N'cafÃ©'"},
		{"a UTF-8 collation", utf8Coll, []byte("café €"), "SELECT 1 WHERE @p = N'café €'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r.send(pktRPC, 0, varcharRPC(tc.stmt, tc.coll, tc.data))
			got := traceTokens(t, r.reply().data)
			assert.Contains(t, got, "DONEINPROC more|count cmd=0xC1 rows=1", "%q: %v", tc.data, got)
		})
	}
	r.send(pktSQLBatch, 0, batchPayload("SELECT 1"))
	require.Equal(t, tokColMetadata, r.reply().data[0])
}
