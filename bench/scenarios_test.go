package bench

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tinyOptions shrink a scenario to a fraction of a second of measuring: the
// point is that every scenario runs end to end and reports sane shapes, not
// its figures.
func tinyOptions(scenario string) Options {
	return Options{Quick: true, Runs: 5, RunTime: 2 * time.Millisecond, MaxIdentities: 40, Scenarios: []string{scenario}}
}

func runTiny(t *testing.T, scenario string) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, tinyOptions(scenario))
	require.NoError(t, err)
	require.NotEmpty(t, rep.Results)
	for _, r := range rep.Results {
		assert.Equal(t, scenario, r.Scenario)
		if r.Skipped {
			assert.NotEmpty(t, r.Note, "a skipped row says why")
			continue
		}
		if r.Primary != "" {
			assert.Equal(t, 5, r.Spread.Runs, "%s %s: every run counted", r.Pool, r.Params)
			assert.LessOrEqual(t, r.Spread.Min, r.Spread.Median)
			assert.LessOrEqual(t, r.Spread.Median, r.Spread.Max)
		}
	}
	return rep
}

func pools(rep *Report) map[string]bool {
	out := map[string]bool{}
	for _, r := range rep.Results {
		out[r.Pool] = true
	}
	return out
}

func TestHotPathTiny(t *testing.T) {
	rep := runTiny(t, ScenarioHotPath)
	assert.Equal(t, map[string]bool{PeerChan: true, PeerPuddle: true, PeerDatabaseSQL: true, PeerIdpool: true}, pools(rep))
	for _, r := range rep.Results {
		ns, ok := r.Metric(MNsPerOp)
		require.True(t, ok)
		assert.Positive(t, ns)
		_, ok = r.Metric(MAllocsPerOp)
		assert.True(t, ok)
	}
	assert.NotNil(t, rep.Ratios[RatioHotPath])
	assert.NotNil(t, rep.Ratios[RatioHotPathWorst])
}

func TestOverloadTiny(t *testing.T) {
	rep := runTiny(t, ScenarioOverload)
	assert.Len(t, rep.Results, 4)
	for _, r := range rep.Results {
		p50, _ := r.Metric(MP50)
		p99, _ := r.Metric(MP99)
		p999, _ := r.Metric(MP999)
		mx, _ := r.Metric(MMax)
		assert.Positive(t, p50, r.Pool)
		assert.LessOrEqual(t, p50, p99, r.Pool)
		assert.LessOrEqual(t, p99, p999, r.Pool)
		assert.LessOrEqual(t, p999, mx, r.Pool)
		rel, ok := r.Metric(MReleaseP99)
		require.True(t, ok, r.Pool)
		assert.Positive(t, rel, r.Pool)
		fair, ok := r.Metric(MFairness)
		require.True(t, ok, r.Pool)
		assert.GreaterOrEqual(t, fair, 1.0, "max wait is at least the mean")
	}
	assert.NotNil(t, rep.Ratios[RatioOverloadSQL])
	assert.NotNil(t, rep.Ratios[RatioOverloadPuddle])
}

func TestManyIdentitiesTiny(t *testing.T) {
	rep := runTiny(t, ScenarioManyIdentities)
	var memRows, tputRows, retiredRows int
	for _, r := range rep.Results {
		switch r.Params.Get("measure") {
		case "retired":
			retiredRows++
			assert.Equal(t, PeerIdpool, r.Pool, "only idpool retires pools")
			kept, ok := r.Metric(MRetiredBytes)
			require.True(t, ok)
			// A retired pool that stayed reachable cost ~3.7 KiB; what may
			// remain is room sized by the peak number of pools alive at
			// once (Go maps, goroutine descriptors), tens of bytes each.
			assert.Less(t, kept, 2048.0, "heap kept per retired identity")
		case "memory":
			memRows++
			_, ok := r.Metric(MBytesPerIdent)
			assert.True(t, ok, r.Pool)
			if r.Pool == PeerSQLDBPerIdentity && intParam(r.Params, "identities") == 40 {
				// Every *sql.DB runs its connection-opener goroutine: the
				// measurement must see it.
				g, _ := r.Metric(MGoroutinesPer)
				assert.InDelta(t, 1.0, g, 0.1)
			}
		case "throughput":
			tputRows++
			ns, _ := r.Metric(MNsPerOp)
			assert.Positive(t, ns)
		}
	}
	// identities 1 and 40: memory for 3 peers each; throughput uniform (1),
	// uniform and zipf (40), for 3 peers each.
	assert.Equal(t, 6, memRows)
	assert.Equal(t, 9, tputRows)
	assert.Equal(t, 1, retiredRows, "identities 40: heap after retirement")
	assert.NotNil(t, rep.Ratios[RatioMemory])
}

func TestMailboxTiny(t *testing.T) {
	rep := runTiny(t, ScenarioMailbox)
	require.Len(t, rep.Results, 2) // 1 and 40 pool actors
	for _, r := range rep.Results {
		ops, _ := r.Metric(MOpsPerSec)
		msgs, _ := r.Metric(MMsgsPerSec)
		assert.InDelta(t, messagesPerPair*ops, msgs, 1e-6*msgs)
	}
}

func TestTokenEconomyTiny(t *testing.T) {
	rep := runTiny(t, ScenarioTokenEconomy)
	byPool := map[string]Result{}
	for _, r := range rep.Results {
		byPool[r.Pool] = r
	}
	mints := func(p string) float64 { v, _ := byPool[p].Metric(MMintsPer1000); return v }
	opens := func(p string) float64 { v, _ := byPool[p].Metric(MOpens); return v }
	assert.Equal(t, 1000.0, mints(PeerTokenPerAcquire), "one mint per acquire")
	assert.Equal(t, opens(PeerTokenPerOpen), mints(PeerTokenPerOpen), "one mint per physical open")
	assert.Equal(t, opens(PeerTokenPerOpenSQL), mints(PeerTokenPerOpenSQL), "one mint per physical open")
	assert.LessOrEqual(t, mints(PeerTokenLazy), opens(PeerTokenLazy), "lazy: never more mints than opens")
	assert.GreaterOrEqual(t, opens(PeerTokenLazy), 1.0+float64(tokenAcquires/tokenKillEvery), "killed connections were reopened")
}

func TestEndToEndTiny(t *testing.T) {
	rep := runTiny(t, ScenarioEndToEnd)
	var tds, pg, pgNoReset int
	for _, r := range rep.Results {
		switch r.Params.Get("server") {
		case "tds":
			tds++
			assert.False(t, r.Skipped, "sim/tds runs in this process: never skipped")
			assert.Nil(t, r.Params.Get("reset"), "sim/tds's reset is free: no reset=off row")
		case "postgres":
			pg++
			if r.Params.Get("reset") == "off" {
				pgNoReset++
				assert.Equal(t, "stmt", r.Params.Get("query"))
			}
		}
		if !r.Skipped {
			q, _ := r.Metric(MQueriesPerSec)
			assert.Positive(t, q, r.Pool)
		}
	}
	assert.Equal(t, 4, tds, "database_sql and idpool, SELECT 1 and *sql.Stmt")
	assert.Positive(t, pg)
	assert.NotNil(t, rep.Ratios[RatioE2ETDS])
	assert.NotNil(t, rep.Ratios[RatioE2EStmtTDS], "the *sql.Stmt rows have a ratio of their own")
	if pg > 1 { // PostgreSQL ran: both *sql.Stmt rows, with and without the reset
		assert.Equal(t, 2, pgNoReset, "database_sql and idpool, *sql.Stmt with the reset off")
		assert.NotNil(t, rep.Ratios[RatioE2EStmtPG])
		assert.NotNil(t, rep.Ratios[RatioE2EStmtPGNoReset])
	}
}
