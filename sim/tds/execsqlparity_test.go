package tds

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// callArg is one argument of an sp_executesql call: a name ("" when by
// position) and a string, an int32 or nil.
type callArg struct {
	name  string
	value any
}

// batchCall writes the call as EXEC sp_executesql in a batch's text.
func batchCall(args []callArg) string {
	parts := make([]string, len(args))
	for i, a := range args {
		var lit string
		switch v := a.value.(type) {
		case string:
			lit = "N'" + strings.ReplaceAll(v, "'", "''") + "'"
		case int32:
			lit = fmt.Sprint(v)
		case nil:
			lit = "NULL"
		}
		if a.name != "" {
			lit = a.name + " = " + lit
		}
		parts[i] = lit
	}
	return strings.TrimSpace("EXEC sp_executesql " + strings.Join(parts, ", "))
}

// rpcCall encodes the call as an RPC of sp_executesql by its procedure id,
// strings as NVARCHAR and integers as INTN(4), as go-mssqldb sends them.
func rpcCall(args []callArg) []byte { return procIDCall(procExecuteSQL, -1, args) }

// procIDCall encodes a call of the procedure id as rpcCall does; the
// argument at position out (if any) is sent by reference, as an OUTPUT
// parameter.
func procIDCall(id uint16, out int, args []callArg) []byte {
	b := []byte{22, 0, 0, 0, 18, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}
	b = append(b, 0xFF, 0xFF)
	b = binary.LittleEndian.AppendUint16(b, id)
	b = append(b, 0, 0) // option flags
	for i, a := range args {
		b = appendBVarChar(b, a.name)
		status := byte(0) // by value
		if i == out {
			status = paramByRef
		}
		b = append(b, status)
		switch v := a.value.(type) {
		case string:
			b = append(b, typNVarChar, 0x40, 0x1F) // NVARCHAR(4000)
			b = append(b, collation[:]...)
			b = binary.LittleEndian.AppendUint16(b, uint16(2*ucs2Len(v)))
			b = appendUCS2(b, v)
		case int32:
			b = append(b, typIntN, 4, 4)
			b = binary.LittleEndian.AppendUint32(b, uint32(v))
		case nil:
			b = append(b, typNVarChar, 0x40, 0x1F)
			b = append(b, collation[:]...)
			b = append(b, 0xFF, 0xFF)
		}
	}
	return b
}

// TestExecuteSQLFormsAgree: the same sp_executesql call sent as an RPC and
// written in a batch binds alike (executesql.go): the same results, and the
// same errors for the calls SQL Server refuses.
func TestExecuteSQLFormsAgree(t *testing.T) {
	c := captureClient(t)
	srv := startRawServer(t, Options{})
	r := dialRaw(t, srv)
	r.login(c)
	stmt := callArg{"", "SELECT @p"}
	decl := callArg{"", "@p int"}
	for _, tc := range []struct {
		name  string
		args  []callArg
		first string
	}{
		{"positional", []callArg{stmt, decl, {"", int32(7)}}, "COLMETADATA 1"},
		{"named", []callArg{stmt, decl, {"@p", int32(7)}}, "COLMETADATA 1"},
		{"named stmt and params", []callArg{{"@stmt", "SELECT @p"}, {"@params", "@p int"}, {"@P", int32(7)}}, "COLMETADATA 1"},
		{"quotes in the text", []callArg{{"", "SELECT 1 WHERE N'it''s' = @s"}, {"", "@s nvarchar(10)"}, {"", "it's"}}, "COLMETADATA 1"},
		{"no statement", nil, "ERROR 201"},
		{"a statement that is not a string", []callArg{{"", int32(1)}}, "ERROR 214"},
		{"more values than declared", []callArg{stmt, decl, {"", int32(1)}, {"", int32(2)}}, "ERROR 8144"},
		{"a value missing", []callArg{stmt, decl}, "ERROR 8178"},
		{"a value twice", []callArg{stmt, decl, {"@p", int32(1)}, {"@p", int32(2)}}, "ERROR 8143"},
		{"a name declared twice", []callArg{stmt, {"", "@p int, @p int"}, {"", int32(1)}, {"", int32(2)}}, "ERROR 134"},
		{"a bad declaration", []callArg{stmt, {"", "@p"}, {"", int32(1)}}, "ERROR 102"},
		{"an undeclared variable", []callArg{{"", "SELECT @q"}, decl, {"", int32(1)}}, "ERROR 137"},
		{"positional after named", []callArg{{"@stmt", "SELECT 1"}, decl}, "ERROR 119"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r.send(pktRPC, 0, rpcCall(tc.args))
			rpc := traceTokens(t, r.reply().data)
			require.NotEmpty(t, rpc)
			assert.Equal(t, tc.first, rpc[0], "the RPC")
			if tc.first == "ERROR 119" {
				// Refused in a batch when it is compiled: none of it
				// runs, so no DONEPROC; the RPC's call fails alone.
				return
			}
			r.send(pktSQLBatch, 0, batchPayload(batchCall(tc.args)))
			assert.Equal(t, rpc, traceTokens(t, r.reply().data), "the batch text %s", batchCall(tc.args))
		})
	}
}
