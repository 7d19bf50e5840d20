package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/idpool/idpool/sim/live"
	"github.com/idpool/idpool/sim/report"
	"github.com/idpool/idpool/sim/virtual"
	"github.com/idpool/idpool/sim/workload"
)

func init() {
	commands["sim"] = command{summary: simHelp.summary, run: runSim}
}

var simHelp = help{
	name:    "sim",
	summary: "run a workload of many identities through the pool and check its invariants",
	description: `Runs a workload of many identities (skewed popularity, a long tail of one-shot
users) through idpool for about 20 seconds, with session kills, refused and slow
logins, token rotations and token endpoint outages, and checks the pool's
invariants all along: no connection reaches another identity, none is leased
twice, no pool exceeds its size, no session outlives its token, every acquire
is answered by its deadline, nothing is open after Close, waiters are served in
order (--mode virtual; a live run reports overtakes as suspects), no lease
starts inside someone else's transaction. It prints a report and exits 1 on
any violation.

--mode live (default) runs the real actor system in real time, through
go-mssqldb and idpool's *sql.DB facade against an embedded simulated SQL Server
with tokens from an embedded Entra ID (--backend memdb: the in-memory driver).
--mode virtual runs the pool state machine under a virtual clock: seeded,
reproducible and fast. --inject-bug plants a bug the checker must catch (virtual
mode only); the run then succeeds exactly when the checker caught it.

--fleet N runs N idpool processes (real OS processes) sharing one etcd session
budget against one simulated SQL Server that enforces a session limit and
counts its sessions itself. It SIGKILLs a process, stops the etcd leader and
moves the leadership (--etcd-outage: also stops all of etcd), checks from the
server's own count and from etcd that the fleet never passes its cap
(fleet_over_cap), and reports the fleet's permits held, waiting and refused,
and the time each fault took to recover from. It needs the etcd server
(apt-get install etcd-server, or .ci/install-etcd.sh) or --etcd ENDPOINTS; it
takes the flags listed under "Fleet mode flags", not the workload's.`,
	examples: []string{
		"idpool sim                                  # live, about 20 s",
		"idpool sim --mode virtual --seed 7 --json   # the same bytes every time",
		"idpool sim --duration 5s --report out.html  # also a self-contained HTML report",
		"idpool sim --mode virtual --inject-bug reorder-grants",
		"idpool sim --fleet 3                        # 3 processes, one etcd budget, about 15 s",
		"idpool sim --fleet 3 --etcd-outage --report fleet.html",
	},
	more: printFleetFlags,
}

// printFleetFlags lists the fleet mode's flags in `idpool sim --help`.
func printFleetFlags(w io.Writer) {
	var ff fleetFlags
	fs := newFleetFlagSet(&ff)
	fmt.Fprintln(w, "\nFleet mode flags (idpool sim --fleet N [flags]):")
	fs.SetOutput(w)
	fs.PrintDefaults()
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
	fs := newSimFlagSet(stdout, &cfg, &sf)
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := checkSimFlags(fs.FlagSet, cfg, sf); err != nil {
		return err
	}
	res, err := simulate(ctx, cfg, sf, stderr)
	if res == nil {
		return err
	}
	// A report file that cannot be written fails the command beside the
	// verdict, not in place of the summary on stdout.
	werr := writeResult(stdout, res, sf)
	if err != nil {
		return errors.Join(err, werr)
	}
	v := verdict(res, cfg)
	if res.Interrupted && (v == nil) == (cfg.InjectBug == "") {
		// The report above covers the part that ran. Violations found
		// there (or an injected bug caught) decide the run all the same;
		// none found (or the bug not caught yet) says nothing of the run
		// that did not end: exit as interrupted, not as passed.
		v = errors.New("interrupted: the report covers only the part of the run before the signal")
	}
	return errors.Join(v, werr)
}

// printSimHelp prints `idpool sim --help` and returns writeHelp's error.
func printSimHelp(stdout io.Writer) error {
	cfg := workload.Default()
	var sf simFlags
	return newSimFlagSet(stdout, &cfg, &sf).printHelp()
}

// newSimFlagSet registers the ordinary sim's flags into cfg and sf.
func newSimFlagSet(stdout io.Writer, cfg *workload.Config, sf *simFlags) *cliFlags {
	fs := newFlagSet(simHelp, stdout)
	fs.StringVar(&sf.mode, "mode", "live", "live: the real actor system in real time; virtual: the pool state machine under a virtual clock")
	fs.StringVar(&sf.backend, "backend", "tds", "live mode backend: tds (go-mssqldb and the *sql.DB facade against an embedded SQL Server, tokens from an embedded Entra ID) or memdb (in-memory driver, leases); --mode live only")
	fs.BoolVar(&sf.json, "json", false, "print the report as one JSON object")
	fs.StringVar(&sf.reportFile, "report", "", "also write a self-contained HTML report with charts to this file (checked before the run starts)")
	fs.BoolVar(&sf.quiet, "quiet", false, "no progress output")
	cfg.RegisterFlags(fs.FlagSet)
	if f := fs.Lookup("inject-bug"); f != nil {
		f.Usage += "; --mode virtual only"
	}
	// Where the flags checkIgnoredFlags refuses elsewhere apply.
	for name, where := range map[string]string{
		"think":        " (closed loop)",
		"mint-latency": " (virtual mode, or --backend memdb)",
	} {
		if f := fs.Lookup(name); f != nil {
			f.Usage += where
		}
	}
	fs.limit(simLimits)
	return fs
}

// checkSimFlags refuses, before the run, every setting the run would fail on
// or silently ignore.
func checkSimFlags(fs *flag.FlagSet, cfg workload.Config, sf simFlags) error {
	switch sf.mode {
	case "live":
		if sf.backend != "tds" && sf.backend != "memdb" {
			return usagef("--backend: unknown backend %q (tds or memdb)", sf.backend)
		}
		if cfg.InjectBug != "" {
			return usagef("--inject-bug needs --mode virtual: bugs are planted in the virtual simulator only")
		}
	case "virtual":
		if flagSet(fs, "backend") {
			return usagef("--backend applies to --mode live only")
		}
	default:
		return usagef("unknown mode %q (live or virtual)", sf.mode)
	}
	if cfg.InjectBug != "" {
		if _, ok := workload.LookupBug(cfg.InjectBug); !ok {
			return usagef("--inject-bug: unknown bug %q (known: %s)", cfg.InjectBug, strings.Join(workload.BugNames(), ", "))
		}
	}
	if err := checkIgnoredFlags(fs, cfg, sf); err != nil {
		return err
	}
	if cfg.Ops < 0 {
		// Validate takes any ops <= 0 as "run for --duration".
		return usagef("--ops must not be negative (got %d; 0 runs for --duration)", cfg.Ops)
	}
	if err := cfg.Validate(); err != nil {
		return usagef("%v", err)
	}
	if n := int64(cfg.Identities) * int64(cfg.Pool.MinSize); n > maxMinSessions {
		// Each bound alone allows it; together every named identity's
		// pool keeps --min-size sessions open, a billion at the bounds.
		return usagef("--identities × --min-size must be at most %d (got %d × %d): every named identity's pool keeps --min-size sessions open",
			maxMinSessions, cfg.Identities, cfg.Pool.MinSize)
	}
	return checkOutputFile("report", sf.reportFile)
}

// maxMinSessions bounds the sessions the named identities' pools keep open
// at their MinSize together.
const maxMinSessions = 100_000

// checkIgnoredFlags refuses a flag the run would take and never use, which
// once left the user measuring a setting that was not there: --rate with
// closed arrivals (the default), --workers or --think with poisson ones,
// the virtual simulator's latencies in a live run, and --mint-latency with
// the tds backend, whose tokens come from the embedded Entra ID at its own
// pace.
func checkIgnoredFlags(fs *flag.FlagSet, cfg workload.Config, sf simFlags) error {
	type rule struct {
		applies bool
		names   []string
		why     string
	}
	for _, r := range []rule{
		{cfg.Arrival == "closed", []string{"rate"}, "applies to --arrival poisson only (closed arrivals: --workers and --think)"},
		{cfg.Arrival == "poisson", []string{"workers", "think"}, "applies to --arrival closed only (poisson arrivals: --rate)"},
		{sf.mode == "live", []string{"validate-latency", "close-latency", "mailbox-latency"}, "applies to --mode virtual only (a live run's are real)"},
		{sf.mode == "live" && sf.backend == "tds", []string{"mint-latency"}, "applies to --backend memdb and --mode virtual only (the tds backend's tokens come from the embedded Entra ID at its own pace)"},
	} {
		for _, n := range r.names {
			if r.applies && flagSet(fs, n) {
				return usagef("--%s %s", n, r.why)
			}
		}
	}
	return nil
}

func simulate(ctx context.Context, cfg workload.Config, sf simFlags, stderr io.Writer) (*report.Result, error) {
	prog := newProgress(stderr, sf.quiet, cfg)
	defer prog.finish()
	switch sf.mode {
	case "virtual":
		return runVirtual(ctx, cfg, prog)
	case "live":
		b, err := liveBackend(sf.backend)
		if err != nil {
			return nil, err
		}
		return live.Run(ctx, cfg, b, live.Options{Progress: prog.update})
	}
	return nil, fmt.Errorf("unknown mode %q (live or virtual)", sf.mode)
}

// runVirtual runs a virtual simulation until it ends or ctx does. The
// simulator takes no context, and main turns SIGINT and SIGTERM into ctx, so
// a long run (--duration 1000h, a heavy fault rate) once went on through
// Ctrl-C and kill alike. Interrupted, the run is abandoned without a report
// (a virtual run is reproducible: run it again shorter); the process exits
// right after.
func runVirtual(ctx context.Context, cfg workload.Config, prog *progress) (*report.Result, error) {
	type ran struct {
		res *report.Result
		err error
	}
	done := make(chan ran, 1)
	go func() {
		res, err := virtual.Run(cfg, virtual.Options{Progress: prog.update})
		done <- ran{res, err}
	}()
	select {
	case r := <-done:
		return r.res, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("interrupted: the virtual run was abandoned without a report (--duration or --ops makes it shorter)")
	}
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
	var err error
	if sf.json {
		if res.Mode == "virtual" {
			// Wall-clock figures differ between runs; the JSON of a
			// virtual run must not.
			res.WallS, res.AcquiresPerWallS = 0, 0
		}
		err = report.WriteJSON(stdout, res)
	} else {
		err = report.WriteText(stdout, res)
	}
	if sf.reportFile != "" {
		err = errors.Join(err, writeFile("report", sf.reportFile, func(w io.Writer) error { return report.WriteHTML(w, res) }))
	}
	return err
}

// verdict fails the command on any violation, except that with an
// injected bug it succeeds exactly when the checker caught the bug.
func verdict(res *report.Result, cfg workload.Config) error {
	if cfg.InjectBug != "" {
		bug, _ := workload.LookupBug(cfg.InjectBug)
		if n, _ := res.Violations.ByName(bug.Violation); n > 0 {
			return nil
		}
		err := fmt.Errorf("injected bug %s was not caught: %s stayed 0", bug.Name, bug.Violation)
		if bug.Needs != "" {
			// The default workload rarely gives this bug its chance: say
			// how to give it one, rather than leave the checker suspect.
			err = fmt.Errorf("%w; it needs %s to strike: try `idpool sim --mode virtual --inject-bug %s %s`", err, bug.Needs, bug.Name, bug.Needs)
		}
		return err
	}
	if n := res.Violations.Total(); n > 0 {
		return fmt.Errorf("%d invariant violations", n)
	}
	return nil
}
