package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"time"
)

// Options tune a run of the scenarios.
type Options struct {
	// Quick shrinks every scenario to a smoke test that finishes in well
	// under a minute: fewer parameters, shorter runs.
	Quick bool
	// Runs per measurement; at least 5 (the default).
	Runs int
	// RunTime is the target length of one timed run. Default 300ms, or 25ms
	// when Quick.
	RunTime time.Duration
	// Scenarios to run, by name; empty runs all of them.
	Scenarios []string
	// Progress, when set, receives a line per measurement.
	Progress io.Writer
	// MaxIdentities, when positive, caps the identity and pool-actor counts
	// of many_identities and mailbox (for smoke tests).
	MaxIdentities int
}

// identityCounts picks the full or quick list of identity counts, capped at
// MaxIdentities.
func (o Options) identityCounts(full, quick []int) []int {
	list := full
	if o.Quick {
		list = quick
	}
	if o.MaxIdentities <= 0 {
		return list
	}
	var out []int
	for _, n := range list {
		if n <= o.MaxIdentities {
			out = append(out, n)
		}
	}
	if len(out) == 0 || out[len(out)-1] < o.MaxIdentities && list[len(list)-1] > o.MaxIdentities {
		out = append(out, o.MaxIdentities)
	}
	return out
}

func (o Options) withDefaults() Options {
	if o.Runs < 5 {
		o.Runs = 5
	}
	if o.RunTime <= 0 {
		o.RunTime = 300 * time.Millisecond
		if o.Quick {
			o.RunTime = 25 * time.Millisecond
		}
	}
	return o
}

func (o Options) progress(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format+"\n", args...)
	}
}

// Scenario is one of the benchmark's questions.
type Scenario struct {
	Name    string
	Summary string
	Run     func(ctx context.Context, o Options) ([]Result, error)
}

// Scenarios lists every scenario in the order the runner runs them.
var Scenarios = []Scenario{
	{ScenarioHotPath, "warm pool, one identity: acquire+release with no work", runHotPath},
	{ScenarioOverload, "4x more goroutines than connections, each holding one briefly: wait tail and fairness", runOverload},
	{ScenarioManyIdentities, "1 to 10,000 identities, uniform and Zipf: throughput, memory and goroutines per idle pool", runManyIdentities},
	{ScenarioMetrics, "acquire+release with an OpenTelemetry MeterProvider set vs without", runMetrics},
	{ScenarioMailbox, "acquire+release pairs through the manager to 1 to 10,000 pool actors: messages/s", runMailbox},
	{ScenarioTokenEconomy, "token mints per 1,000 acquires: lazy vs per physical open vs per acquire", runTokenEconomy},
	{ScenarioEndToEnd, "SELECT 1 through the *sql.DB facade vs plain database/sql on real servers", runEndToEnd},
}

// Scenario names.
const (
	ScenarioHotPath        = "hot_path"
	ScenarioOverload       = "overload_tail"
	ScenarioManyIdentities = "many_identities"
	ScenarioMetrics        = "metrics"
	ScenarioMailbox        = "mailbox"
	ScenarioTokenEconomy   = "token_economy"
	ScenarioEndToEnd       = "end_to_end"
)

// Run runs the chosen scenarios in this process, one after another, and
// returns every result with the ratios and targets computed from them.
//
// When ctx ends (Ctrl-C in idpool bench), Run returns the report of the
// scenarios that had finished, with ctx's error: minutes of measurements
// were thrown away with the scenario that was cut short.
func Run(ctx context.Context, o Options) (*Report, error) {
	return runScenarios(ctx, o, Scenarios)
}

// runScenarios is Run over scenarios.
func runScenarios(ctx context.Context, o Options, scenarios []Scenario) (*Report, error) {
	o = o.withDefaults()
	for _, name := range o.Scenarios {
		if !slices.ContainsFunc(scenarios, func(s Scenario) bool { return s.Name == name }) {
			return nil, fmt.Errorf("bench: unknown scenario %q", name)
		}
	}
	rep := &Report{Machine: DescribeMachine(), Quick: o.Quick, Runs: o.Runs, RunTime: o.RunTime}
	t0 := time.Now()
	for _, s := range scenarios {
		if len(o.Scenarios) > 0 && !slices.Contains(o.Scenarios, s.Name) {
			continue
		}
		if cerr := ctx.Err(); cerr != nil {
			return rep.interrupted(t0, "before", s.Name), fmt.Errorf("bench: interrupted before %s: %w", s.Name, cerr)
		}
		o.progress("== %s: %s", s.Name, s.Summary)
		res, err := s.Run(ctx, o)
		if cerr := ctx.Err(); cerr != nil {
			// A scenario cut short measured nothing whole, even one
			// that returned no error (a run whose acquires were served
			// from idle never saw ctx end, and returns what it had);
			// the ones before it did. Were its results kept, a Ctrl-C
			// during the last scenario would pass as a whole run.
			return rep.interrupted(t0, "in", s.Name), fmt.Errorf("bench: interrupted in %s: %w", s.Name, cerr)
		}
		if err != nil {
			return nil, fmt.Errorf("bench: %s: %w", s.Name, err)
		}
		rep.Results = append(rep.Results, res...)
	}
	return rep.done(t0), nil
}

// done settles a report begun at t0 once its last scenario has run.
func (rep *Report) done(t0 time.Time) *Report {
	rep.Elapsed = time.Since(t0)
	rep.computeRatios()
	return rep
}

// interrupted settles a report whose run ctx ended before (where "before")
// or in (where "in") the scenario named.
func (rep *Report) interrupted(t0 time.Time, where, scenario string) *Report {
	rep.Interrupted = fmt.Sprintf("interrupted %s %s: the results cover only the scenarios that finished before it", where, scenario)
	return rep.done(t0)
}

// trialFunc runs one timed run of one peer and returns its figures.
type trialFunc func(ctx context.Context) (map[string]float64, error)

// interleave runs every peer's trial runs times, peer after peer within each
// round and with the starting peer rotated each round, so slow drift of the
// machine spreads over all peers alike. It returns the per-run figures of
// each peer.
func interleave(ctx context.Context, runs int, trials []trialFunc) ([][]map[string]float64, error) {
	out := make([][]map[string]float64, len(trials))
	for r := range runs {
		for k := range trials {
			i := (r + k) % len(trials)
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			m, err := trials[i](ctx)
			if err != nil {
				return nil, err
			}
			out[i] = append(out[i], m)
		}
	}
	return out, nil
}

// summarize folds one peer's runs into a Result: the median of each figure,
// and the spread of the primary one.
func summarize(scenario, pool string, params Params, primary string, runs []map[string]float64) Result {
	res := Result{Scenario: scenario, Pool: pool, Params: params, Primary: primary, Metrics: map[string]float64{}}
	keys := map[string]bool{}
	for _, m := range runs {
		for k := range m {
			keys[k] = true
		}
	}
	for k := range keys {
		xs := make([]float64, 0, len(runs))
		for _, m := range runs {
			if v, ok := m[k]; ok {
				xs = append(xs, v)
			} else {
				xs = append(xs, math.NaN())
			}
		}
		s := Summarize(xs)
		if s.Runs > 0 {
			res.Metrics[k] = s.Median
		}
		if k == primary {
			res.Spread = s
		}
	}
	return res
}

// skipped is the Result of a measurement that could not run.
func skipped(scenario, pool string, params Params, why string) Result {
	return Result{Scenario: scenario, Pool: pool, Params: params, Skipped: true, Note: why, Metrics: map[string]float64{}}
}
