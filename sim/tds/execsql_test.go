package tds

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExecuteSQLInBatchText: EXEC sp_executesql written in a batch runs as
// its RPC form does: its statements end with DONEINPROC, the call with
// RETURNSTATUS and DONEPROC, and the batch carries on after it. Errors in
// the call fail it with SQL Server's numbers; errors in the text it runs
// follow errorscope.go, that text being a scope of its own.
func TestExecuteSQLInBatchText(t *testing.T) {
	c := captureClient(t)
	srv := startRawServer(t, Options{})
	ok := func(rows ...string) []string {
		out := []string{"COLMETADATA 1"}
		for _, r := range rows {
			out = append(out, "ROW "+r)
		}
		return append(out, "DONEINPROC more|count cmd=0xC1 rows=1", "RETURNSTATUS 0", "DONEPROC final cmd=0x00 rows=0")
	}
	callFailed := []string{"DONEPROC error cmd=0x00 rows=0"}
	for _, tc := range []struct {
		name, sql string
		want      []string
	}{
		{"positional", "EXEC sp_executesql N'SELECT @p', N'@p int', 7", ok("7")},
		{"named", "EXEC sp_executesql N'SELECT @p', N'@p int', @p = 7", ok("7")},
		{"named stmt and params", "exec sys.sp_executesql @stmt = N'SELECT @P', @params = N'@p int', @p = 7", ok("7")},
		{"statement as tedious names it", "EXECUTE [master].[sys].[sp_executesql] @statement = N'SELECT 7'", ok("7")},
		{"no parameters", "EXEC sp_executesql N'SELECT 7'", ok("7")},
		{"null params", "EXEC sp_executesql N'SELECT 7', NULL", ok("7")},
		{"types in the declarations", "EXEC sp_executesql N'SELECT @b WHERE @s = N''it''''s''', N'@s nvarchar(10), @d decimal(10, 2), @b bigint OUTPUT', N'it''s', 1, 5000000000", ok("5000000000")},
		{"a variable of the calling scope", "EXEC sp_executesql N'EXEC sp_executesql N''SELECT @q'', N''@q int'', @q = @p', N'@p int', 7", []string{
			"COLMETADATA 1", "ROW 7", "DONEINPROC more|count cmd=0xC1 rows=1", "RETURNSTATUS 0", "DONEPROC more cmd=0x00 rows=0",
			"RETURNSTATUS 0", "DONEPROC final cmd=0x00 rows=0",
		}},
		{"statements after it", "EXEC sp_executesql N'SELECT 1; SELECT 2'; SELECT 3", []string{
			"COLMETADATA 1", "ROW 1", "DONEINPROC more|count cmd=0xC1 rows=1",
			"COLMETADATA 1", "ROW 2", "DONEINPROC more|count cmd=0xC1 rows=1",
			"RETURNSTATUS 0", "DONEPROC more cmd=0x00 rows=0",
			"COLMETADATA 1", "ROW 3", "DONE count cmd=0xC1 rows=1",
		}},

		{"no statement (201)", "EXEC sp_executesql", append([]string{"ERROR 201"}, callFailed...)},
		{"a statement that is not a string (214)", "EXEC sp_executesql 1", append([]string{"ERROR 214"}, callFailed...)},
		{"params that are not a string (214)", "EXEC sp_executesql N'SELECT 1', 2", append([]string{"ERROR 214"}, callFailed...)},
		{"more values than declared (8144)", "EXEC sp_executesql N'SELECT @p', N'@p int', 1, 2", append([]string{"ERROR 8144"}, callFailed...)},
		{"a declared parameter without a value (8178)", "EXEC sp_executesql N'SELECT @p', N'@p int'", append([]string{"ERROR 8178"}, callFailed...)},
		{"a value given twice (8143)", "EXEC sp_executesql N'SELECT @p', N'@p int', @p = 1, @P = 2", append([]string{"ERROR 8143"}, callFailed...)},
		{"a name declared twice (134)", "EXEC sp_executesql N'SELECT @p', N'@p int, @P int', 1, 2", append([]string{"ERROR 134"}, callFailed...)},
		{"a declaration without a type (102)", "EXEC sp_executesql N'SELECT @p', N'@p', 1", append([]string{"ERROR 102"}, callFailed...)},
		{"a declaration without @ (102)", "EXEC sp_executesql N'SELECT @p', N'p int', 1", append([]string{"ERROR 102"}, callFailed...)},
		{"a call error does not stop the batch", "EXEC sp_executesql N'SELECT @p', N'@p int'; SELECT 2", []string{
			"ERROR 8178", "DONEPROC more|error cmd=0x00 rows=0",
			"COLMETADATA 1", "ROW 2", "DONE count cmd=0xC1 rows=1",
		}},
		{"an undeclared variable in the text (137)", "EXEC sp_executesql N'SELECT @q', N'@p int', 1", []string{
			"ERROR 137", "DONEINPROC more|error cmd=0xC1 rows=0", "DONEPROC error cmd=0x00 rows=0",
		}},
		{"a syntax error in the text fails the call, not the batch", "EXEC sp_executesql N'SELECT FROM'; SELECT 2", []string{
			"ERROR 102", "DONEPROC more|error cmd=0x00 rows=0",
			"COLMETADATA 1", "ROW 2", "DONE count cmd=0xC1 rows=1",
		}},
		{"a scope-aborting error ends the text, not the batch", "EXEC sp_executesql N'SELECT COUNT(*) FROM nowhere; SELECT 1'; SELECT 2", []string{
			"ERROR 208", "DONEINPROC more|error cmd=0xC1 rows=0", "DONEPROC more|error cmd=0x00 rows=0",
			"COLMETADATA 1", "ROW 2", "DONE count cmd=0xC1 rows=1",
		}},
		{"a statement-terminating error in the text", "EXEC sp_executesql N'ROLLBACK; SELECT 1'; SELECT 2", []string{
			"ERROR 3903", "DONEINPROC more|error cmd=0xD6 rows=0",
			"COLMETADATA 1", "ROW 1", "DONEINPROC more|count cmd=0xC1 rows=1",
			"DONEPROC more|error cmd=0x00 rows=0",
			"COLMETADATA 1", "ROW 2", "DONE count cmd=0xC1 rows=1",
		}},
		{"a batch-aborting error in the text ends the batch", "EXEC sp_executesql N'SELECT 1 WHERE 1 = ''x'''; SELECT 2", []string{
			"ERROR 245", "DONEINPROC more|error cmd=0xC1 rows=0", "DONEPROC error cmd=0x00 rows=0",
		}},

		// Refused when the batch is parsed: none of it runs.
		{"positional after named (119)", "SELECT 1; EXEC sp_executesql @stmt = N'SELECT 1', N''", []string{"ERROR 119", "DONE error cmd=0x00 rows=0"}},
		{"OUTPUT values", "EXEC sp_executesql N'SELECT @p', N'@p int OUTPUT', @p = 1 OUTPUT", []string{"ERROR 40517", "DONE error cmd=0x00 rows=0"}},
		{"an unclosed literal", "EXEC sp_executesql N'SELECT 1", []string{"ERROR 102", "DONE error cmd=0x00 rows=0"}},
		{"another procedure (2812)", "EXEC sp_who", []string{"ERROR 2812", "DONE error cmd=0x00 rows=0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, srv)
			r.login(c)
			r.send(pktSQLBatch, 0, batchPayload(tc.sql))
			assert.Equal(t, tc.want, traceTokens(t, r.reply().data))
		})
	}
}

// TestExecuteSQLNestingLimit: a text that runs itself through
// sp_executesql stops at SQL Server's nesting limit of 32 with error 217,
// instead of recursing until the server's stack gives out; the session
// carries on.
func TestExecuteSQLNestingLimit(t *testing.T) {
	c := captureClient(t)
	srv := startRawServer(t, Options{})
	r := dialRaw(t, srv)
	r.login(c)
	const self = "EXEC sp_executesql @s, N''@s nvarchar(max)'', @s"
	r.send(pktSQLBatch, 0, batchPayload("EXEC sp_executesql N'"+self+"', N'@s nvarchar(max)', N'"+self+"'"))
	got := traceTokens(t, r.reply().data)
	require.NotEmpty(t, got)
	assert.Equal(t, "ERROR 217", got[0])
	assert.Equal(t, maxProcNesting+1, strings.Count(strings.Join(got, "\n"), "DONEPROC"), "a DONEPROC for each call that ran, and for the one refused")
	assert.Equal(t, "DONEPROC error cmd=0x00 rows=0", got[len(got)-1])
	r.send(pktSQLBatch, 0, batchPayload("SELECT 1"))
	assert.Equal(t, []string{"COLMETADATA 1", "ROW 1", "DONE count cmd=0xC1 rows=1"}, traceTokens(t, r.reply().data))
}
