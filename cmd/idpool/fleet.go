package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/idpool/idpool/internal/etcdtest"
	simfleet "github.com/idpool/idpool/sim/fleet"
	"github.com/idpool/idpool/sim/report"
)

// A fleet worker is this binary run again with simfleet.WorkerEnv set: it
// runs the worker and exits before main.
func init() { simfleet.MaybeWorker() }

// fleetFlags are the settings of `idpool sim --fleet N`.
type fleetFlags struct {
	cfg              simfleet.Config
	etcd, reportFile string
	json, quiet      bool
}

// newFleetFlagSet registers the fleet mode's flags on a flag set of its
// own: `idpool sim --help` lists them after the ordinary sim's.
func newFleetFlagSet(ff *fleetFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("sim --fleet", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	cfg := &ff.cfg
	fs.IntVar(&cfg.Workers, "fleet", 3, "run this many idpool processes sharing one etcd session budget against one simulated SQL Server")
	fs.StringVar(&ff.etcd, "etcd", "", fmt.Sprintf("comma-separated etcd endpoints, which must answer within %s; default: start a 3-member cluster from the installed etcd binary (needed for the member stop and leader change)", simfleet.EtcdReachTimeout))
	fs.IntVar(&cfg.Cap, "cap", 10, "fleet-wide session cap")
	fs.IntVar(&cfg.Headroom, "headroom", 0, "server session limit above the cap, for sessions the server has not yet reaped (default: 1 per process, as docs/FLEET.md advises)")
	fs.DurationVar(&cfg.TTL, "ttl", 3*time.Second, "etcd lease TTL")
	fs.IntVar(&cfg.Identities, "identities", 8, "identities per process")
	fs.IntVar(&cfg.PerIdentity, "per-identity", 2, "goroutines per identity")
	fs.IntVar(&cfg.MaxSize, "max-size", 2, "pool MaxSize per identity")
	fs.DurationVar(&cfg.Phase, "phase", time.Second, "steady time around each fault")
	fs.BoolVar(&cfg.StopEtcd, "etcd-outage", false, "also stop every etcd member (fail closed) and restart them")
	fs.BoolVar(&ff.json, "json", false, "print the report as one JSON object")
	fs.StringVar(&ff.reportFile, "report", "", "also write a self-contained HTML report with charts to this file (checked before the run starts)")
	fs.BoolVar(&ff.quiet, "quiet", false, "no progress output")
	fleetLimits.document(fs)
	return fs
}

// fleetLimits are the bounds of the fleet mode's flags: each process is a
// real OS process (--fleet 100000 would start that many), each identity's
// goroutines run in every process, and the run waits out the TTL after
// each fault.
var fleetLimits = limits{
	"fleet":        between(1, 32),
	"cap":          between(1, 100_000),
	"headroom":     atMost(100_000),
	"ttl":          between(float64(2*time.Second), float64(time.Minute)),
	"identities":   between(1, 1_000),
	"per-identity": between(1, 100),
	"max-size":     between(1, 1_000),
	"phase":        atMost(float64(10 * time.Minute)),
}

// isFleetRun says whether args ask for fleet mode.
func isFleetRun(args []string) bool {
	return slices.ContainsFunc(args, func(a string) bool {
		return a == "--fleet" || a == "-fleet" || strings.HasPrefix(a, "--fleet=") || strings.HasPrefix(a, "-fleet=")
	})
}

// maybeFleet runs `idpool sim --fleet N [flags]` and says true, or says false
// when args do not ask for fleet mode (the ordinary sim then parses them).
func maybeFleet(ctx context.Context, args []string, stdout, stderr io.Writer) (bool, error) {
	if !isFleetRun(args) {
		return false, nil
	}
	var ff fleetFlags
	fs := newFleetFlagSet(&ff)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			if werr := printSimHelp(stdout); werr != nil {
				return true, werr
			}
			return true, err
		}
		return true, usagef("%v%s (idpool sim --help lists the fleet mode's flags)", err, durationHint(fs, err))
	}
	if err := checkNumbers(fs); err != nil {
		return true, err
	}
	if err := fleetLimits.check(fs); err != nil {
		return true, err
	}
	if err := checkFleetFlags(fs, &ff); err != nil {
		return true, err
	}
	cfg := ff.simConfig(fs)
	if ff.etcd == "" {
		if _, err := etcdtest.Binary(); err != nil {
			return true, fmt.Errorf("no etcd: pass --etcd ENDPOINTS, or install the etcd server (apt-get install etcd-server, or .ci/install-etcd.sh): %w", err)
		}
	}
	if !ff.quiet {
		cfg.Log = stderr
	}
	rep, err := simfleet.Run(ctx, cfg)
	if rep == nil {
		return true, err
	}
	if err != nil {
		// The report covers the part that ran, and says so: an
		// interrupted run's once read "every fleet invariant held", and
		// failed with the bare "context canceled".
		if ctx.Err() != nil {
			err = errors.New("interrupted: the report covers only the part of the run before the signal")
			rep.Stopped = "interrupted"
		} else {
			rep.Stopped = fmt.Sprintf("stopped by an error: %v", err)
		}
	}
	// A report file that cannot be written fails the command beside the
	// run's own outcome, not in place of the summary on stdout.
	werr := writeFleetReport(stdout, rep, ff)
	if err != nil {
		return true, errors.Join(err, werr)
	}
	if n := len(rep.Violations); n > 0 {
		return true, errors.Join(fmt.Errorf("%d violations", n), werr)
	}
	return true, werr
}

// simConfig is the run's configuration from the parsed flags. An explicit
// --headroom 0 means none, which simfleet spells as a negative headroom (its
// 0 takes the default, one session per process).
func (ff *fleetFlags) simConfig(fs *flag.FlagSet) simfleet.Config {
	cfg := ff.cfg
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "headroom" && cfg.Headroom == 0 {
			cfg.Headroom = -1
		}
	})
	if ff.etcd != "" {
		cfg.Endpoints = strings.Split(ff.etcd, ",")
	}
	return cfg
}

// checkFleetFlags refuses, before the run, the settings it would fail on.
func checkFleetFlags(fs *flag.FlagSet, ff *fleetFlags) error {
	c := ff.cfg
	switch {
	case fs.NArg() > 0:
		return usagef("unexpected arguments %q: every setting is a flag (idpool sim --help)", fs.Args())
	case c.Workers < 1:
		return usagef("--fleet must be at least 1 (got %d)", c.Workers)
	case c.Cap < 1:
		return usagef("--cap must be at least 1 (got %d)", c.Cap)
	case c.TTL < 2*time.Second:
		return usagef("--ttl must be at least 2s, etcd's shortest lease (got %s)", c.TTL)
	case c.Identities < 1 || c.PerIdentity < 1 || c.MaxSize < 1:
		return usagef("--identities, --per-identity and --max-size must be at least 1")
	case c.Headroom < 0:
		return usagef("--headroom must not be negative (got %d)", c.Headroom)
	case c.Phase <= 0:
		return usagef("--phase must be positive (got %s)", c.Phase)
	case ff.etcd != "" && slices.Contains(strings.Split(ff.etcd, ","), ""):
		return usagef("--etcd %q: an empty endpoint (want host:port[,host:port...])", ff.etcd)
	case c.StopEtcd && ff.etcd != "":
		return usagef("--etcd-outage stops the etcd cluster the run starts itself; with --etcd it would be skipped")
	}
	return checkOutputFile("report", ff.reportFile)
}

func writeFleetReport(stdout io.Writer, rep *simfleet.Report, ff fleetFlags) error {
	var err error
	if ff.json {
		err = report.WriteFleetJSON(stdout, rep)
	} else {
		err = report.WriteFleetText(stdout, rep)
	}
	if ff.reportFile != "" {
		err = errors.Join(err, writeFile("report", ff.reportFile, func(w io.Writer) error { return report.WriteFleetHTML(w, rep) }))
	}
	return err
}
