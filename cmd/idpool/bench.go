package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/idpool/idpool/bench"
)

func init() {
	commands["bench"] = command{summary: benchHelp.summary, run: runBench}
}

var benchHelp = help{
	name:    "bench",
	summary: "measure idpool side by side with database/sql, puddle and a channel pool",
	description: `Measures idpool side by side with database/sql, puddle and a channel pool: the
hot path, tail latency and fairness under overload, many identities, mailbox
throughput, token economy, and end to end over the simulated SQL Server and
PostgreSQL (skipped when PostgreSQL is not installed). Each measurement is
repeated --runs times; the tables show medians and spreads, and docs/BENCHMARKS.md
explains the results. A full run takes several minutes; --quick is the
CI smoke run.`,
	examples: []string{
		"idpool bench --quick                                 # smoke run, under a minute",
		"idpool bench --only hot_path,overload_tail --runs 7  # two scenarios, seven runs each",
		"idpool bench --json-file out.json --report out.html",
	},
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet(benchHelp, stdout)
	quick := fs.Bool("quick", false, "smoke run: fewer parameters and short runs (under a minute)")
	asJSON := fs.Bool("json", false, "print one JSON object instead of the tables")
	report := fs.String("report", "", "also write an HTML report with charts to this file (checked before the runs start)")
	jsonFile := fs.String("json-file", "", "also write the JSON object to this file (checked before the runs start)")
	runs := fs.Int("runs", 5, "runs per measurement")
	runTime := fs.Duration("run-time", 0, "target length of one timed run, at least 1ms (default 300ms, 25ms with --quick)")
	only := fs.String("only", "", "comma-separated scenarios to run (default all): "+scenarioNames())
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	fs.limit(limits{
		// Each run of each measurement is kept: --runs 1000000000000
		// ran out of memory before the first measurement.
		"runs":     between(5, 1_000),
		"run-time": atMost(float64(time.Minute)),
	})
	if err := fs.parse(args); err != nil {
		return err
	}
	if *runs < 5 {
		return usagef("--runs must be at least 5 (got %d)", *runs)
	}
	// 0 is the default. Under a millisecond a timed run shrinks to one
	// pair per goroutine (calibrate goes no lower), and ns/op measures the
	// run's goroutines waking up, not the pool, printed like any figure.
	if *runTime != 0 && *runTime < minBenchRunTime {
		return usagef("--run-time must be at least %s (got %s)", minBenchRunTime, *runTime)
	}
	if err := checkScenarios(*only); err != nil {
		return err
	}
	if err := checkOutputFile("report", *report); err != nil {
		return err
	}
	if err := checkOutputFile("json-file", *jsonFile); err != nil {
		return err
	}
	if *report != "" && *jsonFile != "" && samePath(*report, *jsonFile) {
		return usagef("--report and --json-file both name %s: the second written would replace the first", *report)
	}
	o := bench.Options{Quick: *quick, Runs: *runs, RunTime: *runTime}
	if *only != "" {
		o.Scenarios = strings.Split(*only, ",")
	}
	if !*quiet {
		o.Progress = stderr
	}
	rep, err := bench.Run(ctx, o)
	if rep == nil {
		return err
	}
	// Minutes of measurements are not thrown away for one output that
	// cannot be written (its directory removed during the run, a full
	// disk): every output is tried, and the errors reported together.
	var errs []error
	if *report != "" {
		errs = append(errs, writeFile("report", *report, func(w io.Writer) error { return rep.WriteHTML(w, time.Now()) }))
	}
	if *jsonFile != "" {
		errs = append(errs, writeFile("json-file", *jsonFile, rep.WriteJSON))
	}
	if *asJSON {
		errs = append(errs, rep.WriteJSON(stdout))
	} else {
		errs = append(errs, rep.WriteTable(stdout))
	}
	if err != nil {
		// Interrupted: the scenarios that finished are printed and
		// written above, and the command fails as interrupted.
		errs = append([]error{fmt.Errorf("%w (the results cover only the scenarios that finished)", err)}, errs...)
	}
	return errors.Join(errs...)
}

// minBenchRunTime is the shortest --run-time that still measures the pool.
const minBenchRunTime = time.Millisecond

// checkScenarios refuses an --only list naming a scenario that does not exist.
func checkScenarios(only string) error {
	if only == "" {
		return nil
	}
	known := map[string]bool{}
	for _, s := range bench.Scenarios {
		known[s.Name] = true
	}
	for _, name := range strings.Split(only, ",") {
		if !known[name] {
			return usagef("--only: unknown scenario %q (known: %s)", name, scenarioNames())
		}
	}
	return nil
}

func scenarioNames() string {
	names := make([]string, len(bench.Scenarios))
	for i, s := range bench.Scenarios {
		names[i] = s.Name
	}
	return strings.Join(names, ",")
}
