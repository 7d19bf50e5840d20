package tds

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestBatchErrorScope pins the token stream of batches in which an error is
// raised (errorscope.go): each ERROR token, the DONE_ERROR DONE of the
// statement that raised it, and then what SQL Server runs next: the next
// statement (statement-terminating errors), nothing more of the scope
// (scope-aborting) or of the batch (batch-aborting, and any run-time error
// under SET XACT_ABORT ON, which also rolls back). Every DONE but the last
// of the reply carries DONE_MORE; a failed statement's carries no
// DONE_COUNT.
func TestBatchErrorScope(t *testing.T) {
	c := captureClient(t)
	srv := startRawServer(t, Options{})
	for _, tc := range []struct {
		name, sql string
		want      []string
	}{
		{"statement-terminating error, then the next statement", "ROLLBACK; SELECT 1", []string{
			"ERROR 3903", "DONE more|error cmd=0xD6 rows=0",
			"COLMETADATA 1", "ROW 1", "DONE count cmd=0xC1 rows=1",
		}},
		{"several statement errors in a row", "COMMIT\nROLLBACK\nSELECT 2", []string{
			"ERROR 3902", "DONE more|error cmd=0xD5 rows=0",
			"ERROR 3903", "DONE more|error cmd=0xD6 rows=0",
			"COLMETADATA 1", "ROW 2", "DONE count cmd=0xC1 rows=1",
		}},
		{"a statement error last in the batch", "SELECT 1; ROLLBACK", []string{
			"COLMETADATA 1", "ROW 1", "DONE more|count cmd=0xC1 rows=1",
			"ERROR 3903", "DONE error cmd=0xD6 rows=0",
		}},
		{"object exists: statement-terminating", "CREATE TABLE #e (a int); CREATE TABLE #e (a int); INSERT INTO #e VALUES (1); SELECT COUNT(*) FROM #e", []string{
			"DONE more cmd=0xC6 rows=0",
			"ERROR 2714", "DONE more|error cmd=0xC6 rows=0",
			"DONE more|count cmd=0xC3 rows=1",
			"COLMETADATA 1", "ROW 1", "DONE count cmd=0xC1 rows=1",
		}},
		{"invalid object: the rest of the batch is skipped", "SELECT 1; SELECT COUNT(*) FROM no_such_table; SELECT 2", []string{
			"COLMETADATA 1", "ROW 1", "DONE more|count cmd=0xC1 rows=1",
			"ERROR 208", "DONE error cmd=0xC1 rows=0",
		}},
		{"conversion error: the batch is aborted", "SELECT 1 WHERE 1 = 'x'; SELECT 2", []string{
			"ERROR 245", "DONE error cmd=0xC1 rows=0",
		}},
		{"a syntax error anywhere: nothing runs", "ROLLBACK; SELECT 1; SELECT FROM", []string{
			"ERROR 102", "DONE error cmd=0x00 rows=0",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, srv)
			r.login(c)
			r.send(pktSQLBatch, 0, batchPayload(tc.sql))
			assert.Equal(t, tc.want, traceTokens(t, r.reply().data))
		})
	}
}

// TestXactAbort: under SET XACT_ABORT ON a statement-terminating error
// aborts the batch and rolls the transaction back (ENVCHANGE 10) with the
// rows it inserted; with it OFF the same batch carries on and commits.
func TestXactAbort(t *testing.T) {
	c := captureClient(t)
	srv := startRawServer(t, Options{})
	const batch = "BEGIN TRAN; INSERT INTO #x VALUES (1); CREATE TABLE #x (a int); INSERT INTO #x VALUES (2); COMMIT"
	t.Run("off: the batch carries on and commits", func(t *testing.T) {
		r := dialRaw(t, srv)
		r.login(c)
		r.send(pktSQLBatch, 0, batchPayload("CREATE TABLE #x (a int)"))
		r.reply()
		r.send(pktSQLBatch, 0, batchPayload(batch))
		got := traceTokens(t, r.reply().data)
		assert.Equal(t, []string{
			"ENVCHANGE 8", "DONE more cmd=0xD4 rows=0",
			"DONE more|count cmd=0xC3 rows=1",
			"ERROR 2714", "DONE more|error cmd=0xC6 rows=0",
			"DONE more|count cmd=0xC3 rows=1",
			"ENVCHANGE 9", "DONE final cmd=0xD5 rows=0",
		}, got)
		assert.Equal(t, []string{"COLMETADATA 1", "ROW 0", "DONE more|count cmd=0xC1 rows=1", "COLMETADATA 1", "ROW 2", "DONE count cmd=0xC1 rows=1"},
			afterwards(t, r))
	})
	t.Run("on: the batch stops and rolls back", func(t *testing.T) {
		r := dialRaw(t, srv)
		r.login(c)
		r.send(pktSQLBatch, 0, batchPayload("CREATE TABLE #x (a int); SET XACT_ABORT ON"))
		r.reply()
		r.send(pktSQLBatch, 0, batchPayload(batch))
		assert.Equal(t, []string{
			"ENVCHANGE 8", "DONE more cmd=0xD4 rows=0",
			"DONE more|count cmd=0xC3 rows=1",
			"ERROR 2714", "ENVCHANGE 10", "DONE error cmd=0xC6 rows=0",
		}, traceTokens(t, r.reply().data))
		assert.Equal(t, []string{"COLMETADATA 1", "ROW 0", "DONE more|count cmd=0xC1 rows=1", "COLMETADATA 1", "ROW 0", "DONE count cmd=0xC1 rows=1"},
			afterwards(t, r), "no transaction, and its row is gone")
	})
	t.Run("on: a compile error does not roll back", func(t *testing.T) {
		// XACT_ABORT does not affect compile errors (SET XACT_ABORT
		// docs); 137 is one, found here only when the statement runs.
		r := dialRaw(t, srv)
		r.login(c)
		r.send(pktSQLBatch, 0, batchPayload("SET XACT_ABORT ON; BEGIN TRAN; SELECT @nowhere; SELECT 1"))
		assert.Equal(t, []string{
			"DONE more cmd=0xB9 rows=0",
			"ENVCHANGE 8", "DONE more cmd=0xD4 rows=0",
			"ERROR 137", "DONE error cmd=0xC1 rows=0",
		}, traceTokens(t, r.reply().data))
		r.send(pktSQLBatch, 0, batchPayload("SELECT @@TRANCOUNT"))
		assert.Equal(t, []string{"COLMETADATA 1", "ROW 1", "DONE count cmd=0xC1 rows=1"}, traceTokens(t, r.reply().data))
	})
}

// afterwards reads @@TRANCOUNT and the rows of #x in a batch of its own.
func afterwards(t *testing.T, r *rawClient) []string {
	t.Helper()
	r.send(pktSQLBatch, 0, batchPayload("SELECT @@TRANCOUNT; SELECT COUNT(*) FROM #x"))
	return traceTokens(t, r.reply().data)
}
