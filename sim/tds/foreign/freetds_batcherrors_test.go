package foreign_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runTsqlMerged runs script through tsql with its messages (stderr) and
// results (stdout, line-buffered) in one stream, so that their order is
// the order in which tsql read the server's tokens.
func runTsqlMerged(t *testing.T, c ftds, script string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := tsqlCommand(ctx, t, c, true)
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	// One writer for both: os/exec gives tsql a single pipe for them.
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "tsql did not finish within a minute:\n%s", &out)
	t.Logf("tsql:\n%s", &out)
	require.NoError(t, err, "tsql failed:\n%s", &out)
	return out.String()
}

// inOrder asserts each of want appears in out, each after the one before.
func inOrder(t *testing.T, out string, want ...string) {
	t.Helper()
	rest := out
	for _, w := range want {
		i := strings.Index(rest, w)
		if !assert.GreaterOrEqual(t, i, 0, "%q missing, or before what precedes it in the list, in:\n%s", w, out) {
			return
		}
		rest = rest[i+len(w):]
	}
}

// TestFreeTDSBatchCarriesOnAfterErrors: FreeTDS's tsql sees what SQL
// Server sends for a batch with errors (sim/tds/errorscope.go): the error
// of a statement-terminating error, then the later statements' results; a
// scope- or batch-aborting error, and any error under SET XACT_ABORT ON,
// end the batch (the latter rolling back). It also runs EXEC sp_executesql
// written in a batch, and the error of a call missing a value.
func TestFreeTDSBatchCarriesOnAfterErrors(t *testing.T) {
	tsqlBin(t)
	s := startIdpoolTDS(t)
	out := runTsqlMerged(t, freeTDSConn(s), ""+
		"ROLLBACK\nSELECT 1 AS after_rollback\ngo\n"+
		"SELECT 1 AS before_208\nSELECT COUNT(*) AS never FROM no_such_table\nSELECT 2 AS skipped_208\ngo\n"+
		"SELECT 1 AS x WHERE 1 = 'x'\nSELECT 2 AS skipped_245\ngo\n"+
		"CREATE TABLE #x (a int)\ngo\n"+
		"BEGIN TRAN\nINSERT INTO #x VALUES (1)\nCREATE TABLE #x (a int)\nSELECT @@TRANCOUNT AS tc_xact_abort_off\nROLLBACK\ngo\n"+
		"SET XACT_ABORT ON\nBEGIN TRAN\nINSERT INTO #x VALUES (1)\nCREATE TABLE #x (a int)\nSELECT 3 AS skipped_xact_abort\ngo\n"+
		"SET XACT_ABORT OFF\nSELECT @@TRANCOUNT AS tc_after\nSELECT COUNT(*) AS rows_after FROM #x\ngo\n"+
		"EXEC sp_executesql N'SELECT @p AS p, @q AS q', N'@p int, @q nvarchar(10)', 7, @q = N'it''s'\ngo\n"+
		"EXEC sp_executesql N'SELECT @p AS p', N'@p int'\nSELECT 8 AS after_call\ngo\n")
	inOrder(t, out,
		"Msg 3903 (severity 16, state 1)", "The ROLLBACK TRANSACTION request has no corresponding BEGIN TRANSACTION.",
		"after_rollback\n1\n",
		"before_208\n1\n", "Msg 208 (severity 16, state 1)", "Invalid object name 'no_such_table'.",
		"Msg 245 (severity 16, state 1)",
		"Msg 2714 (severity 16, state 1)", "tc_xact_abort_off\n1\n",
		"Msg 2714 (severity 16, state 1)", "tc_after\n0\n", "rows_after\n0\n",
		"p\tq\n7\tit's\n",
		"Msg 8178 (severity 16, state 1)", "expects the parameter '@p', which was not supplied.", "after_call\n8\n",
	)
	for _, never := range []string{"never", "skipped_208", "skipped_245", "skipped_xact_abort"} {
		assert.NotContains(t, out, never)
	}
}
