package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInterleaveRotatesThePeersRunByRun(t *testing.T) {
	var order []int
	trials := make([]trialFunc, 3)
	for i := range trials {
		trials[i] = func(context.Context) (map[string]float64, error) {
			order = append(order, i)
			return map[string]float64{"x": float64(len(order))}, nil
		}
	}
	runs, err := interleave(context.Background(), 3, trials)
	require.NoError(t, err)
	assert.Equal(t, []int{0, 1, 2, 1, 2, 0, 2, 0, 1}, order)
	require.Len(t, runs, 3)
	for i := range runs {
		assert.Len(t, runs[i], 3, "peer %d", i)
	}
	// Peer 1 ran 2nd, 4th and 9th.
	assert.Equal(t, []map[string]float64{{"x": 2}, {"x": 4}, {"x": 9}}, runs[1])
}

func TestInterleaveStopsAtTheFirstError(t *testing.T) {
	boom := errors.New("boom")
	calls := 0
	trials := []trialFunc{
		func(context.Context) (map[string]float64, error) { calls++; return nil, boom },
		func(context.Context) (map[string]float64, error) { calls++; return nil, nil },
	}
	_, err := interleave(context.Background(), 5, trials)
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, 1, calls)
}

func TestSummarizeResultTakesMediansAndPrimarySpread(t *testing.T) {
	runs := []map[string]float64{
		{MNsPerOp: 100, MAllocsPerOp: 1},
		{MNsPerOp: 300, MAllocsPerOp: 1},
		{MNsPerOp: 200, MAllocsPerOp: 2},
	}
	r := summarize("s", "p", Params{{"g", 1}}, MNsPerOp, runs)
	assert.Equal(t, 200.0, r.Metrics[MNsPerOp])
	assert.Equal(t, 1.0, r.Metrics[MAllocsPerOp])
	assert.Equal(t, Summary{Median: 200, Min: 100, Max: 300, SpreadPct: 100, Runs: 3}, r.Spread)
}

func TestParamsKeepTheirOrder(t *testing.T) {
	ps := Params{{"max_size", 8}, {"goroutines", 32}, {"a", "x"}}
	b, err := json.Marshal(ps)
	require.NoError(t, err)
	assert.Equal(t, `{"max_size":8,"goroutines":32,"a":"x"}`, string(b))
	assert.Equal(t, "max_size=8 goroutines=32 a=x", ps.String())
	assert.Equal(t, 32, ps.Get("goroutines"))
	assert.Nil(t, ps.Get("missing"))
}

func TestResultJSONHasTheFixedKeysNullWhenUnmeasured(t *testing.T) {
	r := Result{Scenario: "hot_path", Pool: "idpool", Params: Params{{"max_size", 8}},
		Metrics: map[string]float64{MNsPerOp: 1234.5678, "zeta": 1, MOpsPerSec: 810000.4},
		Primary: MNsPerOp, Spread: Summary{Median: 1234.5678, Min: 1000, Max: 1500, SpreadPct: 40.5, Runs: 5}}
	b, err := json.Marshal(r)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	for _, k := range []string{"scenario", "pool", "params", "ns_per_op", "allocs_per_op", "p50_us", "p99_us", "p999_us", "max_us"} {
		assert.Contains(t, m, k)
	}
	assert.Equal(t, 1235.0, m["ns_per_op"], "rounded to 4 significant digits")
	assert.Nil(t, m["p99_us"])
	assert.Nil(t, m["allocs_per_op"])
	assert.Equal(t, 810000.0, m[MOpsPerSec])
	assert.Equal(t, 1.0, m["zeta"])
	assert.Equal(t, 5.0, m["runs"])
	assert.Equal(t, map[string]any{"max_size": 8.0}, m["params"])
	// Fixed keys come first, in the order.
	s := string(b)
	assert.Less(t, strings.Index(s, `"ns_per_op"`), strings.Index(s, `"max_us"`))
	assert.Less(t, strings.Index(s, `"max_us"`), strings.Index(s, `"ops_per_sec"`))
}

func TestJSONNumRounding(t *testing.T) {
	assert.Equal(t, 123500.0, jsonNum(123456))
	assert.Equal(t, 0.001235, jsonNum(0.00123456))
	assert.Equal(t, 0.0, jsonNum(0))
	assert.Nil(t, jsonNum(nanValue()))
}

func nanValue() float64 { var z float64; return z / z }

// syntheticReport builds a report with known figures for the ratio tests.
func syntheticReport() *Report {
	hp := func(g int, pool string, ns float64) Result {
		return Result{Scenario: ScenarioHotPath, Pool: pool, Params: Params{{"max_size", 8}, {"goroutines", g}},
			Metrics: map[string]float64{MNsPerOp: ns, MAllocsPerOp: 0}}
	}
	ov := func(pool string, p99 float64) Result {
		return Result{Scenario: ScenarioOverload, Pool: pool, Params: Params{{"max_size", 8}},
			Metrics: map[string]float64{MP99: p99}}
	}
	mem := func(n int, pool string, b, net, gor float64) Result {
		return Result{Scenario: ScenarioManyIdentities, Pool: pool, Params: Params{{"identities", n}, {"measure", "memory"}},
			Metrics: map[string]float64{MBytesPerIdent: b, MPoolBytesIdent: net, MGoroutinesPer: gor}}
	}
	e2e := func(server, pool string, qps float64) Result {
		return Result{Scenario: ScenarioEndToEnd, Pool: pool, Params: Params{{"server", server}},
			Metrics: map[string]float64{MQueriesPerSec: qps}}
	}
	many := func(n int, pool string, ns float64) Result {
		return Result{Scenario: ScenarioManyIdentities, Pool: pool, Params: Params{{"identities", n}, {"measure", "throughput"}},
			Metrics: map[string]float64{MNsPerOp: ns}}
	}
	met := func(g int, pool string, ns, allocs float64) Result {
		return Result{Scenario: ScenarioMetrics, Pool: pool, Params: Params{{"max_size", 8}, {"goroutines", g}},
			Metrics: map[string]float64{MNsPerOp: ns, MAllocsPerOp: allocs}}
	}
	rep := &Report{Results: []Result{
		hp(1, PeerDatabaseSQL, 100), hp(1, PeerIdpool, 1000), // 1 goroutine: left out of the ratio
		hp(8, PeerDatabaseSQL, 100), hp(8, PeerIdpool, 200), hp(8, PeerPuddle, 100),
		hp(32, PeerDatabaseSQL, 400), hp(32, PeerIdpool, 200), hp(32, PeerPuddle, 400),
		ov(PeerDatabaseSQL, 1000), ov(PeerIdpool, 250), ov(PeerPuddle, 500),
		mem(100, PeerIdpool, 3000, 2000, 0), mem(100, PeerSQLDBPerIdentity, 2000, 1000, 1),
		mem(10000, PeerIdpool, 1000, 500, 0), mem(10000, PeerSQLDBPerIdentity, 4000, 3000, 1),
		{Scenario: ScenarioMailbox, Pool: PeerIdpool, Params: Params{{"pool_actors", 1}}, Metrics: map[string]float64{MMsgsPerSec: 2e6}},
		{Scenario: ScenarioMailbox, Pool: PeerIdpool, Params: Params{{"pool_actors", 100}}, Metrics: map[string]float64{MMsgsPerSec: 3.5e6}},
		e2e("postgres", PeerDatabaseSQL, 1000), e2e("postgres", PeerIdpool, 980),
		many(100, PeerIdpool, 140), many(100, PeerSQLDBPerIdentity, 100),
		many(10000, PeerIdpool, 300), many(10000, PeerSQLDBPerIdentity, 100),
		met(1, PeerIdpool, 100, 1), met(1, PeerIdpoolMetrics, 105, 1),
		met(8, PeerIdpool, 100, 1), met(8, PeerIdpoolMetrics, 105, 1.5),
		skipped(ScenarioEndToEnd, PeerIdpool, Params{{"server", "tds"}}, "not built"),
	}}
	rep.computeRatios()
	return rep
}

func TestRatios(t *testing.T) {
	rep := syntheticReport()
	get := func(k string) float64 {
		t.Helper()
		require.NotNil(t, rep.Ratios[k], k)
		return *rep.Ratios[k]
	}
	assert.InDelta(t, 1.0, get(RatioHotPath), 1e-9, "geomean of 2x and 0.5x; the 1-goroutine row is left out")
	assert.InDelta(t, 2.0, get(RatioHotPathWorst), 1e-9)
	assert.InDelta(t, GeoMean([]float64{2, 0.5}), get(RatioHotPathPuddle), 1e-9)
	assert.InDelta(t, 0.25, get(RatioOverloadSQL), 1e-9)
	assert.InDelta(t, 0.5, get(RatioOverloadPuddle), 1e-9)
	assert.InDelta(t, 0.25, get(RatioMemory), 1e-9, "taken at the most identities")
	assert.InDelta(t, 0.98, get(RatioE2EPG), 1e-9)
	assert.InDelta(t, 10.0, get(RatioHotPathLow), 1e-9, "only the 1-goroutine row")
	assert.InDelta(t, 3.0, get(RatioManyWorst), 1e-9, "the worse of 1.4x and 3x")
	assert.InDelta(t, 1.05, get(RatioMetrics), 1e-9)
	assert.InDelta(t, 0.5, get(RatioMetricsAllocs), 1e-9, "the most allocations a MeterProvider adds in any row")
	assert.Nil(t, rep.Ratios[RatioE2ETDS], "skipped rows give no ratio")
	assert.InDelta(t, GeoMean([]float64{1.4, 3}), get(RatioManyThroughput), 1e-9)
}

func TestTargets(t *testing.T) {
	rep := syntheticReport()
	met := map[string]*bool{}
	for _, tg := range rep.Targets {
		met[tg.Name] = tg.Met
	}
	is := func(name string, want bool) {
		t.Helper()
		require.NotNil(t, met[name], name)
		assert.Equal(t, want, *met[name], name)
	}
	is("hot_path_parity", true)
	is("hot_path_ceiling", false)         // 2x at 8 goroutines
	is("hot_path_low_concurrency", false) // 10x at 1 goroutine
	is("many_identities", false)          // 3x at 10,000 identities
	is("metrics_overhead", true)
	is("metrics_allocs", false) // half an allocation more per op
	is("overload_p99", true)
	is("end_to_end_pg", true)
	is("mailbox", true) // best row 3.5M
	is("idle_pool_memory", true)
	is("idle_pool_goroutines", true)
	assert.Nil(t, met["end_to_end_tds"])
}

func TestWriteJSONShape(t *testing.T) {
	rep := syntheticReport()
	rep.Machine = DescribeMachine()
	var buf bytes.Buffer
	require.NoError(t, rep.WriteJSON(&buf))
	var out struct {
		Machine map[string]any      `json:"machine"`
		Results []map[string]any    `json:"results"`
		Ratios  map[string]*float64 `json:"ratios"`
		Targets []map[string]any    `json:"targets"`
	}
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(buf.Bytes(), &raw))
	for _, k := range []string{"machine", "results", "ratios", "targets"} {
		assert.Contains(t, raw, k)
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &out))
	assert.NotEmpty(t, out.Machine["goos"])
	assert.NotZero(t, out.Machine["num_cpu"])
	assert.Len(t, out.Results, len(rep.Results))
	for _, k := range []string{RatioHotPath, RatioOverloadSQL, RatioOverloadPuddle, RatioMemory, RatioE2ETDS, RatioE2EPG} {
		assert.Contains(t, out.Ratios, k)
	}
	assert.Nil(t, out.Ratios[RatioE2ETDS])
	var sawSkipped bool
	for _, r := range out.Results {
		for _, k := range []string{"scenario", "pool", "params", "ns_per_op", "allocs_per_op", "p50_us", "p99_us", "p999_us", "max_us"} {
			assert.Contains(t, r, k)
		}
		if r["skipped"] == true {
			sawSkipped = true
			assert.Equal(t, "not built", r["note"])
		}
	}
	assert.True(t, sawSkipped)
}

func TestWriteTableShowsRowsRatiosAndTargets(t *testing.T) {
	rep := syntheticReport()
	var buf bytes.Buffer
	require.NoError(t, rep.WriteTable(&buf))
	s := buf.String()
	assert.Contains(t, s, "hot_path:")
	assert.Contains(t, s, "max_size=8 goroutines=32")
	assert.Contains(t, s, "0.50x", "idpool 200 vs database_sql 400")
	assert.Contains(t, s, "skipped: not built")
	assert.Contains(t, s, RatioOverloadSQL)
	assert.Contains(t, s, "MISSED")
	assert.Contains(t, s, "not measured")
}

func TestIdentityCounts(t *testing.T) {
	full, quick := []int{1, 100, 10000}, []int{1, 1000}
	assert.Equal(t, full, Options{}.identityCounts(full, quick))
	assert.Equal(t, quick, Options{Quick: true}.identityCounts(full, quick))
	assert.Equal(t, []int{1, 50}, Options{Quick: true, MaxIdentities: 50}.identityCounts(full, quick))
	assert.Equal(t, []int{1, 100}, Options{MaxIdentities: 100}.identityCounts(full, quick))
}

func TestIdentitySequences(t *testing.T) {
	a := identitySequences(1000, 4, "zipf", 5000)
	b := identitySequences(1000, 4, "zipf", 5000)
	assert.Equal(t, a, b, "the same for every peer")
	require.Len(t, a, 4)
	counts := make([]int, 1000)
	for _, s := range a {
		require.Len(t, s, 5000)
		for _, id := range s {
			require.True(t, id >= 0 && id < 1000)
			counts[id]++
		}
	}
	assert.Greater(t, counts[0], 20*counts[500], "Zipf: identity 0 is far more popular than a middling one")
	u := identitySequences(10, 2, "uniform", 10000)
	ucounts := make([]int, 10)
	for _, s := range u {
		for _, id := range s {
			ucounts[id]++
		}
	}
	for i, c := range ucounts {
		assert.InDelta(t, 2000, c, 300, "identity %d", i)
	}
}

func TestWaitMetrics(t *testing.T) {
	h := hdrhistogram.New(1, int64(time.Minute), 3)
	for i := 1; i <= 1000; i++ {
		require.NoError(t, h.RecordValue(int64(i)*1000)) // 1µs .. 1000µs
	}
	m := waitMetrics(h, time.Second)
	assert.InDelta(t, 500, m[MP50], 1)
	assert.InDelta(t, 990, m[MP99], 1)
	assert.InDelta(t, 999, m[MP999], 1)
	assert.InDelta(t, 1000, m[MMax], 1)
	assert.InDelta(t, 500.5, m[MMean], 1)
	assert.InDelta(t, 1000/500.5, m[MFairness], 0.01)
	assert.Equal(t, 1000.0, m[MOpsPerSec])
}

// countingPool is a Pool with no waiting, counting its calls.
type countingPool struct{ acquires, releases atomic.Int64 }

func (p *countingPool) Acquire(context.Context, int) (Conn, error) {
	p.acquires.Add(1)
	return p, nil
}
func (p *countingPool) Release(Conn) { p.releases.Add(1) }
func (p *countingPool) Close() error { return nil }

func TestRunPairsRunsExactlyNPairsOverTheGoroutines(t *testing.T) {
	p := &countingPool{}
	seen := make([]atomic.Int64, 3)
	w := Workload{Goroutines: 4, Identities: [][]int32{{0, 1}, {2}}, Op: func(c Conn) error { return nil }}
	// Identities are not visible to countingPool; check them with a wrapper.
	r, err := runPairs(context.Background(), identityRecorder{p, seen}, w, 1003)
	require.NoError(t, err)
	assert.Equal(t, int64(1003), r.Ops)
	assert.Equal(t, int64(1003), p.acquires.Load())
	assert.Equal(t, int64(1003), p.releases.Load())
	assert.Positive(t, r.Elapsed)
	assert.Positive(t, seen[0].Load())
	assert.Positive(t, seen[1].Load())
	assert.Positive(t, seen[2].Load())
}

type identityRecorder struct {
	*countingPool
	seen []atomic.Int64
}

func (r identityRecorder) Acquire(ctx context.Context, id int) (Conn, error) {
	r.seen[id].Add(1)
	return r.countingPool.Acquire(ctx, id)
}

func TestRunPairsReportsTheFirstErrorAndReleasesOnOpError(t *testing.T) {
	p := &countingPool{}
	boom := errors.New("boom")
	_, err := runPairs(context.Background(), p, Workload{Goroutines: 2, Op: func(Conn) error { return boom }}, 100)
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, p.acquires.Load(), p.releases.Load())
}

func TestCalibrateFindsARunLength(t *testing.T) {
	p := &countingPool{}
	n, err := calibrate(context.Background(), p, Workload{Goroutines: 2}, 5*time.Millisecond)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, n, int64(2))
}

func TestRunRejectsUnknownScenario(t *testing.T) {
	_, err := Run(context.Background(), Options{Scenarios: []string{"nope"}})
	assert.ErrorContains(t, err, `unknown scenario "nope"`)
}

func TestWriteHTMLDrawsAChartPerScenario(t *testing.T) {
	rep := syntheticReport()
	var buf bytes.Buffer
	require.NoError(t, rep.WriteHTML(&buf, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)))
	s := buf.String()
	assert.Contains(t, s, "2026-01-02T03:04:05Z")
	for _, name := range []string{ScenarioHotPath, ScenarioOverload, ScenarioManyIdentities, ScenarioMailbox, ScenarioEndToEnd} {
		assert.Contains(t, s, "<h2>"+name+"</h2>")
	}
	assert.Contains(t, s, `class="bar idpool"`)
	assert.Contains(t, s, "<svg")
	assert.Contains(t, s, "targets:", "the text tables are included")
}
