package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/idpool/idpool/bench"
)

func init() {
	commands["bench"] = command{summary: "measure idpool side by side with database/sql, puddle and a channel", run: runBench}
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "smoke run: fewer parameters and short runs (under a minute)")
	asJSON := fs.Bool("json", false, "print one JSON object instead of the tables")
	report := fs.String("report", "", "also write an HTML report with charts to this file")
	jsonFile := fs.String("json-file", "", "also write the JSON object to this file")
	runs := fs.Int("runs", 5, "runs per measurement (at least 5)")
	runTime := fs.Duration("run-time", 0, "target length of one timed run (default 300ms, 25ms with --quick)")
	only := fs.String("only", "", "comma-separated scenarios to run (default all): "+scenarioNames())
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if *runs < 5 {
		return fmt.Errorf("--runs must be at least 5 (got %d)", *runs)
	}
	o := bench.Options{Quick: *quick, Runs: *runs, RunTime: *runTime}
	if *only != "" {
		o.Scenarios = strings.Split(*only, ",")
	}
	if !*quiet {
		o.Progress = stderr
	}
	rep, err := bench.Run(ctx, o)
	if err != nil {
		return err
	}
	if *report != "" {
		if err := writeReport(*report, rep); err != nil {
			return err
		}
	}
	if *jsonFile != "" {
		if err := writeJSONFile(*jsonFile, rep); err != nil {
			return err
		}
	}
	if *asJSON {
		return rep.WriteJSON(stdout)
	}
	return rep.WriteTable(stdout)
}

func writeReport(path string, rep *bench.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := rep.WriteHTML(f, time.Now()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func scenarioNames() string {
	names := make([]string, len(bench.Scenarios))
	for i, s := range bench.Scenarios {
		names[i] = s.Name
	}
	return strings.Join(names, ",")
}

func writeJSONFile(path string, rep *bench.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := rep.WriteJSON(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
