package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/idpool/idpool/sim/live"
	"github.com/idpool/idpool/sim/report"
	"github.com/idpool/idpool/sim/virtual"
	"github.com/idpool/idpool/sim/workload"
)

func init() {
	commands["sim"] = command{summary: "run a workload through the pool and check its invariants", run: runSim}
}

// simFlags are the flags of `idpool sim` beside the workload's.
type simFlags struct {
	mode, backend, reportFile string
	json, quiet               bool
}

func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if fleet, err := maybeFleet(ctx, args, stdout, stderr); fleet {
		return err
	}
	cfg := workload.Default()
	var sf simFlags
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&sf.mode, "mode", "live", "live: the real actor system in real time; virtual: the pool state machine under a virtual clock")
	fs.StringVar(&sf.backend, "backend", "tds", "live mode backend: tds (go-mssqldb and the *sql.DB facade against an embedded SQL Server, tokens from an embedded Entra ID) or memdb (in-memory driver, leases)")
	fs.BoolVar(&sf.json, "json", false, "print the report as one JSON object")
	fs.StringVar(&sf.reportFile, "report", "", "also write a self-contained HTML report with charts to this file")
	fs.BoolVar(&sf.quiet, "quiet", false, "no progress output")
	cfg.RegisterFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: idpool sim [flags]\n\nRuns a workload through idpool and checks its invariants. Flags:\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	res, err := simulate(ctx, cfg, sf, stderr)
	if res == nil {
		return err
	}
	if werr := writeResult(stdout, res, sf); werr != nil {
		return werr
	}
	if err != nil {
		return err
	}
	return verdict(res, cfg)
}

func simulate(ctx context.Context, cfg workload.Config, sf simFlags, stderr io.Writer) (*report.Result, error) {
	prog := newProgress(stderr, sf.quiet, cfg)
	defer prog.finish()
	switch sf.mode {
	case "virtual":
		return virtual.Run(cfg, virtual.Options{Progress: prog.update})
	case "live":
		b, err := liveBackend(sf.backend)
		if err != nil {
			return nil, err
		}
		return live.Run(ctx, cfg, b, live.Options{Progress: prog.update})
	}
	return nil, fmt.Errorf("unknown mode %q (live or virtual)", sf.mode)
}

func liveBackend(name string) (live.Backend, error) {
	switch name {
	case "memdb":
		return live.NewMemDB(), nil
	case "tds":
		return live.NewTDS(), nil
	}
	return nil, fmt.Errorf("unknown backend %q (tds or memdb)", name)
}

func writeResult(stdout io.Writer, res *report.Result, sf simFlags) error {
	if sf.reportFile != "" {
		f, err := os.Create(sf.reportFile)
		if err != nil {
			return err
		}
		if err := report.WriteHTML(f, res); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	if sf.json {
		if res.Mode == "virtual" {
			// Wall-clock figures differ between runs; the JSON of a
			// virtual run must not.
			res.WallS, res.AcquiresPerWallS = 0, 0
		}
		return report.WriteJSON(stdout, res)
	}
	return report.WriteText(stdout, res)
}

// verdict fails the command on any violation, except that with an
// injected bug it succeeds exactly when the checker caught the bug.
func verdict(res *report.Result, cfg workload.Config) error {
	if cfg.InjectBug != "" {
		bug, _ := workload.LookupBug(cfg.InjectBug)
		if n, _ := res.Violations.ByName(bug.Violation); n > 0 {
			return nil
		}
		return fmt.Errorf("injected bug %s was not caught: %s stayed 0", bug.Name, bug.Violation)
	}
	if n := res.Violations.Total(); n > 0 {
		return fmt.Errorf("%d invariant violations", n)
	}
	return nil
}
