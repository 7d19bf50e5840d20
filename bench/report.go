package bench

import (
	"encoding/json"
	"io"
	"math"
	"time"
)

// Report is the outcome of one run of the runner.
type Report struct {
	Machine Machine
	Results []Result
	// Ratios compare idpool with its peers; nil means not measured. See
	// RatioNames for what each means and which way is better.
	Ratios  map[string]*float64
	Targets []Target
	Quick   bool
	Runs    int
	RunTime time.Duration
	Elapsed time.Duration
	// Interrupted, when set, says where a cancelled Run stopped: the
	// report then covers only the scenarios before that point, and every
	// output says so, so that a file kept from a cut-short run does not
	// pass for a whole one.
	Interrupted string
}

// Ratio names and their meaning.
const (
	// RatioHotPath: idpool ns/op over database/sql's, geometric mean over
	// the hot_path rows with 8 or more goroutines. Lower is better.
	RatioHotPath = "hot_path_vs_database_sql"
	// RatioHotPathWorst: the highest of those per-row ratios.
	RatioHotPathWorst = "hot_path_vs_database_sql_worst"
	// RatioHotPathPuddle: as RatioHotPath, against puddle.
	RatioHotPathPuddle = "hot_path_vs_puddle"
	// RatioOverloadSQL: idpool's p99 acquire wait over database/sql's,
	// geometric mean over the overload rows. Lower is better.
	RatioOverloadSQL = "overload_p99_vs_database_sql"
	// RatioOverloadPuddle: as RatioOverloadSQL, against puddle.
	RatioOverloadPuddle = "overload_p99_vs_puddle"
	// RatioMemory: idpool's heap bytes per idle identity over one *sql.DB
	// per identity's, at the most identities measured. Lower is better.
	RatioMemory = "many_identities_mem_vs_sql_db_per_identity"
	// RatioManyThroughput: idpool ns/op over one *sql.DB per identity's,
	// geometric mean over the many_identities rows. Lower is better.
	RatioManyThroughput = "many_identities_ns_vs_sql_db_per_identity"
	// RatioE2ETDS and RatioE2EPG: idpool's queries/s through the *sql.DB
	// facade over plain database/sql's on the same server. Higher is better.
	RatioE2ETDS = "end_to_end_tds_vs_database_sql"
	RatioE2EPG  = "end_to_end_pg_vs_database_sql"
	// RatioE2EStmtTDS and RatioE2EStmtPG: idpool's ns per execution of a
	// *sql.Stmt prepared on the *sql.DB facade over plain database/sql's
	// (lower is better; the target is 1.1).
	RatioE2EStmtTDS = "end_to_end_stmt_tds_ns_vs_database_sql"
	RatioE2EStmtPG  = "end_to_end_stmt_pg_ns_vs_database_sql"
	// RatioE2EStmtPGNoReset: the same *sql.Stmt ratio on PostgreSQL with
	// the session reset off (postgres.WithoutSessionReset; lower is better).
	RatioE2EStmtPGNoReset = "end_to_end_stmt_pg_noreset_ns_vs_database_sql"
	// RatioHotPathLow: the highest idpool/database/sql ns ratio among the
	// hot_path rows with 1 or 2 goroutines. Lower is better.
	RatioHotPathLow = "hot_path_vs_database_sql_low_concurrency_worst"
	// RatioManyWorst: the highest idpool/one-*sql.DB-per-identity ns ratio
	// among the many_identities throughput rows with 100 or more
	// identities. Lower is better.
	RatioManyWorst = "many_identities_ns_vs_sql_db_per_identity_worst"
	// RatioMetrics: idpool with a MeterProvider over idpool without, ns per
	// acquire+release, geometric mean over the metrics rows. Lower is better.
	RatioMetrics = "metrics_ns_vs_without"
	// RatioMetricsAllocs: the allocations per acquire+release a
	// MeterProvider adds, the most over the metrics rows.
	RatioMetricsAllocs = "metrics_extra_allocs_per_op"
)

// Target is one of the goals, checked against a report.
type Target struct {
	Name   string   `json:"name"`
	Goal   string   `json:"goal"`
	Value  *float64 `json:"value"`
	Limit  float64  `json:"limit"`
	Met    *bool    `json:"met"` // nil: not measured
	Better string   `json:"better"`
}

// find returns the result of pool in scenario with exactly params, if any.
func (rep *Report) find(scenario, pool string, params Params) (Result, bool) {
	for _, r := range rep.Results {
		if r.Scenario == scenario && r.Pool == pool && r.Params.String() == params.String() && !r.Skipped {
			return r, true
		}
	}
	return Result{}, false
}

// rowRatios returns, for each result of pool in scenario accepted by keep,
// its metric over that of base with the same params.
func (rep *Report) rowRatios(scenario, pool, base, metric string, keep func(Params) bool) []float64 {
	return rep.rowPairs(scenario, pool, base, metric, keep, func(x, y float64) (float64, bool) { return x / y, y > 0 })
}

// rowDiffs returns, for each result of pool in scenario, its metric minus
// that of base with the same params.
func (rep *Report) rowDiffs(scenario, pool, base, metric string) []float64 {
	return rep.rowPairs(scenario, pool, base, metric, nil, func(x, y float64) (float64, bool) { return x - y, true })
}

// rowPairs returns f of each result's metric (of pool in scenario, accepted
// by keep) and the same metric of base with the same params, where f says
// the pair counts.
func (rep *Report) rowPairs(scenario, pool, base, metric string, keep func(Params) bool, f func(x, y float64) (float64, bool)) []float64 {
	var out []float64
	for _, r := range rep.Results {
		if r.Scenario != scenario || r.Pool != pool || r.Skipped || (keep != nil && !keep(r.Params)) {
			continue
		}
		b, ok := rep.find(scenario, base, r.Params)
		if !ok {
			continue
		}
		x, ok1 := r.Metric(metric)
		y, ok2 := b.Metric(metric)
		if v, counts := f(x, y); ok1 && ok2 && counts {
			out = append(out, v)
		}
	}
	return out
}

// maxOf returns the largest of xs, NaN for none.
func maxOf(xs []float64) float64 {
	m := math.NaN()
	for _, x := range xs {
		if math.IsNaN(m) || x > m {
			m = x
		}
	}
	return m
}

func ptr(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func intParam(ps Params, key string) int {
	v, _ := ps.Get(key).(int)
	return v
}

func (rep *Report) computeRatios() {
	rep.Ratios = map[string]*float64{}
	eightPlus := func(ps Params) bool { return intParam(ps, "goroutines") >= 8 }
	hot := rep.rowRatios(ScenarioHotPath, PeerIdpool, PeerDatabaseSQL, MNsPerOp, eightPlus)
	rep.Ratios[RatioHotPath] = ptr(GeoMean(hot))
	rep.Ratios[RatioHotPathWorst] = ptr(maxOf(hot))
	rep.Ratios[RatioHotPathLow] = ptr(maxOf(rep.rowRatios(ScenarioHotPath, PeerIdpool, PeerDatabaseSQL, MNsPerOp,
		func(ps Params) bool { return intParam(ps, "goroutines") <= 2 })))
	rep.Ratios[RatioHotPathPuddle] = ptr(GeoMean(rep.rowRatios(ScenarioHotPath, PeerIdpool, PeerPuddle, MNsPerOp, eightPlus)))
	rep.Ratios[RatioOverloadSQL] = ptr(GeoMean(rep.rowRatios(ScenarioOverload, PeerIdpool, PeerDatabaseSQL, MP99, nil)))
	rep.Ratios[RatioOverloadPuddle] = ptr(GeoMean(rep.rowRatios(ScenarioOverload, PeerIdpool, PeerPuddle, MP99, nil)))

	// Memory: the row with the most identities that measured it.
	best, mem := 0, math.NaN()
	for _, x := range rep.Results {
		if x.Scenario != ScenarioManyIdentities || x.Pool != PeerIdpool {
			continue
		}
		if _, ok := x.Metric(MBytesPerIdent); !ok {
			continue
		}
		if n := intParam(x.Params, "identities"); n > best {
			if rs := rep.rowRatios(ScenarioManyIdentities, PeerIdpool, PeerSQLDBPerIdentity, MBytesPerIdent,
				func(ps Params) bool { return ps.String() == x.Params.String() }); len(rs) == 1 {
				best, mem = n, rs[0]
			}
		}
	}
	rep.Ratios[RatioMemory] = ptr(mem)
	throughput := func(ps Params) bool { return ps.Get("measure") == "throughput" }
	rep.Ratios[RatioManyThroughput] = ptr(GeoMean(rep.rowRatios(ScenarioManyIdentities, PeerIdpool, PeerSQLDBPerIdentity, MNsPerOp, throughput)))
	rep.Ratios[RatioManyWorst] = ptr(maxOf(rep.rowRatios(ScenarioManyIdentities, PeerIdpool, PeerSQLDBPerIdentity, MNsPerOp,
		func(ps Params) bool { return throughput(ps) && intParam(ps, "identities") >= 100 })))
	rep.Ratios[RatioMetrics] = ptr(GeoMean(rep.rowRatios(ScenarioMetrics, PeerIdpoolMetrics, PeerIdpool, MNsPerOp, nil)))
	rep.Ratios[RatioMetricsAllocs] = ptr(maxOf(rep.rowDiffs(ScenarioMetrics, PeerIdpoolMetrics, PeerIdpool, MAllocsPerOp)))

	// query is "" for the SELECT 1 rows, which have no query param; reset
	// is "" for the rows with the default session reset.
	backendReset := func(b, query, reset string) func(Params) bool {
		return func(ps Params) bool {
			q, _ := ps.Get("query").(string)
			r, _ := ps.Get("reset").(string)
			return ps.Get("server") == b && q == query && r == reset
		}
	}
	backend := func(b, query string) func(Params) bool { return backendReset(b, query, "") }
	rep.Ratios[RatioE2ETDS] = ptr(GeoMean(rep.rowRatios(ScenarioEndToEnd, PeerIdpool, PeerDatabaseSQL, MQueriesPerSec, backend("tds", ""))))
	rep.Ratios[RatioE2EPG] = ptr(GeoMean(rep.rowRatios(ScenarioEndToEnd, PeerIdpool, PeerDatabaseSQL, MQueriesPerSec, backend("postgres", ""))))
	rep.Ratios[RatioE2EStmtTDS] = ptr(GeoMean(rep.rowRatios(ScenarioEndToEnd, PeerIdpool, PeerDatabaseSQL, MNsPerOp, backend("tds", "stmt"))))
	rep.Ratios[RatioE2EStmtPG] = ptr(GeoMean(rep.rowRatios(ScenarioEndToEnd, PeerIdpool, PeerDatabaseSQL, MNsPerOp, backend("postgres", "stmt"))))
	rep.Ratios[RatioE2EStmtPGNoReset] = ptr(GeoMean(rep.rowRatios(ScenarioEndToEnd, PeerIdpool, PeerDatabaseSQL, MNsPerOp, backendReset("postgres", "stmt", "off"))))
	rep.computeTargets()
}

func (rep *Report) computeTargets() {
	check := func(name, goal string, v *float64, limit float64, better string) {
		t := Target{Name: name, Goal: goal, Value: v, Limit: limit, Better: better}
		if v != nil {
			met := *v <= limit
			if better == "higher" {
				met = *v >= limit
			}
			t.Met = &met
		}
		rep.Targets = append(rep.Targets, t)
	}
	// The limits are issue #15's (and #16's for the *sql.Stmt rows).
	check("hot_path_parity", "idpool ns/op within database/sql's at 8+ goroutines (geometric mean)", rep.Ratios[RatioHotPath], 1.0, "lower")
	check("hot_path_ceiling", "no hot_path row with 8+ goroutines above 1.3x database/sql", rep.Ratios[RatioHotPathWorst], 1.3, "lower")
	check("hot_path_low_concurrency", "at 1-2 goroutines at most 1.5x database/sql (worst row)", rep.Ratios[RatioHotPathLow], 1.5, "lower")
	check("many_identities", "at most 1.5x one *sql.DB per identity at 100 and 10,000 identities, uniform and Zipf (worst row)", rep.Ratios[RatioManyWorst], 1.5, "lower")
	check("overload_p99", "idpool p99 acquire wait at or under 0.25x database/sql's", rep.Ratios[RatioOverloadSQL], 0.25, "lower")
	check("end_to_end_tds", "idpool facade queries/s at least 0.97 of plain database/sql (sim/tds)", rep.Ratios[RatioE2ETDS], 0.97, "higher")
	check("end_to_end_pg", "idpool facade queries/s at least 0.97 of plain database/sql (PostgreSQL)", rep.Ratios[RatioE2EPG], 0.97, "higher")
	check("end_to_end_stmt_tds", "a *sql.Stmt through the facade costs at most 1.1x plain database/sql's (sim/tds)", rep.Ratios[RatioE2EStmtTDS], 1.1, "lower")
	check("end_to_end_stmt_pg", "a *sql.Stmt through the facade costs at most 1.1x plain database/sql's (PostgreSQL)", rep.Ratios[RatioE2EStmtPG], 1.1, "lower")
	check("end_to_end_stmt_tds_bar", "the same *sql.Stmt row held to the end-to-end bar: at most 1/0.97 = 1.031x (sim/tds)", rep.Ratios[RatioE2EStmtTDS], 1/0.97, "lower")
	check("end_to_end_stmt_pg_bar", "the same *sql.Stmt row held to the end-to-end bar: at most 1/0.97 = 1.031x (PostgreSQL)", rep.Ratios[RatioE2EStmtPG], 1/0.97, "lower")
	check("metrics_overhead", "with a MeterProvider at most 1.1x the same run without one", rep.Ratios[RatioMetrics], 1.1, "lower")
	check("metrics_allocs", "no extra allocation per acquire with a MeterProvider (tolerance 0.05 per op)", rep.Ratios[RatioMetricsAllocs], 0.05, "lower")
	var mbox, mem, gor float64 = math.NaN(), math.NaN(), math.NaN()
	for _, r := range rep.Results {
		if r.Pool != PeerIdpool || r.Skipped {
			continue
		}
		if v, ok := r.Metric(MMsgsPerSec); ok && r.Scenario == ScenarioMailbox && (math.IsNaN(mbox) || v > mbox) {
			mbox = v
		}
		if r.Scenario == ScenarioManyIdentities && intParam(r.Params, "identities") >= 100 {
			if v, ok := r.Metric(MPoolBytesIdent); ok && (math.IsNaN(mem) || v > mem) {
				mem = v
			}
			if v, ok := r.Metric(MGoroutinesPer); ok && (math.IsNaN(gor) || v > gor) {
				gor = v
			}
		}
	}
	check("mailbox", "at least 3M messages/s through the manager to pool actors (best row)", ptr(mbox), 3e6, "higher")
	check("idle_pool_memory", "at most 2 KiB of heap per idle identity pool (net of its connection; worst row with 100+ identities)", ptr(mem), 2048, "lower")
	check("idle_pool_goroutines", "no goroutine per idle identity pool", ptr(gor), 0.01, "lower")
}

// WriteJSON writes the report as one JSON object.
func (rep *Report) WriteJSON(w io.Writer) error {
	results := rep.Results
	if results == nil {
		results = []Result{}
	}
	ratios := make(map[string]any, len(rep.Ratios))
	for k, v := range rep.Ratios {
		if v == nil {
			ratios[k] = nil
		} else {
			ratios[k] = jsonNum(*v)
		}
	}
	out := struct {
		Machine   Machine        `json:"machine"`
		Results   []Result       `json:"results"`
		Ratios    map[string]any `json:"ratios"`
		Targets   []Target       `json:"targets"`
		Quick     bool           `json:"quick"`
		Runs      int            `json:"runs"`
		RunTimeMS float64        `json:"run_time_ms"`
		ElapsedS  float64        `json:"elapsed_s"`
		// Interrupted: see Report.Interrupted.
		Interrupted string `json:"interrupted,omitempty"`
	}{rep.Machine, results, ratios, rep.Targets, rep.Quick, rep.Runs,
		float64(rep.RunTime) / 1e6, math.Round(rep.Elapsed.Seconds()*10) / 10, rep.Interrupted}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
