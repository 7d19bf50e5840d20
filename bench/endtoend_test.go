package bench

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEndToEndResetOffRowHasItsOwnRatio: the PostgreSQL *sql.Stmt row with
// the session reset off gets a ratio of its own and never enters the
// default row's ratio (nor its #16 target), which stays the default's.
func TestEndToEndResetOffRowHasItsOwnRatio(t *testing.T) {
	row := func(pool string, ns float64, reset ...Param) Result {
		ps := append(Params{{"server", "postgres"}, {"query", "stmt"}}, reset...)
		return Result{Scenario: ScenarioEndToEnd, Pool: pool, Params: ps, Metrics: map[string]float64{MNsPerOp: ns}}
	}
	off := Param{"reset", "off"}
	rep := &Report{Results: []Result{
		row(PeerDatabaseSQL, 100), row(PeerIdpool, 300),
		row(PeerDatabaseSQL, 100, off), row(PeerIdpool, 105, off),
	}}
	rep.computeRatios()
	require.NotNil(t, rep.Ratios[RatioE2EStmtPG])
	require.NotNil(t, rep.Ratios[RatioE2EStmtPGNoReset])
	assert.InDelta(t, 3.0, *rep.Ratios[RatioE2EStmtPG], 1e-9, "the default row alone")
	assert.InDelta(t, 1.05, *rep.Ratios[RatioE2EStmtPGNoReset], 1e-9)
	for _, tg := range rep.Targets {
		if tg.Name == "end_to_end_stmt_pg" {
			require.NotNil(t, tg.Met)
			assert.False(t, *tg.Met, "judged on the default row")
		}
	}
}
