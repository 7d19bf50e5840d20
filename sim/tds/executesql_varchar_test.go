package tds

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// varcharArg is a callArg value sent as VARCHAR (code page 1252 bytes) in
// an RPC, and written as a string literal without N in a batch.
type varcharArg string

// rpcCallVarchar is rpcCall, with varcharArg values as VARCHAR(8000).
func rpcCallVarchar(args []callArg) []byte {
	b := rpcCall(nil)
	for _, a := range args {
		v, ok := a.value.(varcharArg)
		if !ok {
			b = append(b, rpcCall([]callArg{a})[len(rpcCall(nil)):]...)
			continue
		}
		b = appendBVarChar(b, a.name)
		b = append(b, 0, typBigVarChar, 0x40, 0x1F) // VARCHAR(8000)
		b = append(b, collation[:]...)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
		b = append(b, v...)
	}
	return b
}

// TestExecuteSQLRefusesNonUnicodeText: sp_executesql's @stmt and @params
// are Unicode; SQL Server refuses a VARCHAR (or CHAR) for either, whether
// sent as an RPC parameter or written as a string literal without N, with
// error 214 ("Procedure expects parameter '@statement' of type
// 'ntext/nchar/nvarchar'."). The simulator ran the text (a VARCHAR's bytes
// read in code page 1252), so code that works here failed on SQL Server.
// A VARCHAR value of a declared parameter is still taken.
func TestExecuteSQLRefusesNonUnicodeText(t *testing.T) {
	c := captureClient(t)
	srv := startRawServer(t, Options{})
	r := dialRaw(t, srv)
	r.login(c)
	for _, tc := range []struct {
		name  string
		rpc   []callArg
		batch string
		first string
	}{
		{"a VARCHAR statement", []callArg{{"", varcharArg("SELECT 1")}},
			"EXEC sp_executesql 'SELECT 1'", "ERROR 214"},
		{"a VARCHAR statement, named", []callArg{{"@stmt", varcharArg("SELECT 1")}},
			"EXEC sp_executesql @stmt = 'SELECT 1'", "ERROR 214"},
		{"VARCHAR declarations", []callArg{{"", "SELECT @p"}, {"", varcharArg("@p int")}, {"", int32(1)}},
			"EXEC sp_executesql N'SELECT @p', '@p int', 1", "ERROR 214"},
		{"a VARCHAR value", []callArg{{"", "SELECT 1 WHERE @p = N'x'"}, {"", "@p varchar(10)"}, {"", varcharArg("x")}},
			"EXEC sp_executesql N'SELECT 1 WHERE @p = N''x''', N'@p varchar(10)', 'x'", "COLMETADATA 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r.send(pktRPC, 0, rpcCallVarchar(tc.rpc))
			got := traceTokens(t, r.reply().data)
			require.NotEmpty(t, got)
			assert.Equal(t, tc.first, got[0], "the RPC: %v", got)
			r.send(pktSQLBatch, 0, batchPayload(tc.batch))
			got = traceTokens(t, r.reply().data)
			require.NotEmpty(t, got)
			assert.Equal(t, tc.first, got[0], "the batch %s: %v", tc.batch, got)
		})
	}
	r.send(pktSQLBatch, 0, batchPayload("SELECT 1"))
	require.Equal(t, tokColMetadata, r.reply().data[0])
}
