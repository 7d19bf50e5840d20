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
)

// A fleet worker is this binary run again with simfleet.WorkerEnv set: it
// runs the worker and exits before main.
func init() { simfleet.MaybeWorker() }

// maybeFleet runs `idpool sim --fleet N [flags]` and says true, or says false
// when args do not ask for fleet mode (the ordinary sim then parses them).
func maybeFleet(ctx context.Context, args []string, stdout, stderr io.Writer) (bool, error) {
	if !slices.ContainsFunc(args, func(a string) bool {
		return a == "--fleet" || a == "-fleet" || strings.HasPrefix(a, "--fleet=") || strings.HasPrefix(a, "-fleet=")
	}) {
		return false, nil
	}
	var cfg simfleet.Config
	var etcd string
	var quiet bool
	fs := flag.NewFlagSet("sim --fleet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&cfg.Workers, "fleet", 3, "run this many idpool processes sharing one etcd session budget against one simulated SQL Server")
	fs.StringVar(&etcd, "etcd", "", "comma-separated etcd endpoints; default: start a 3-member cluster from the installed etcd binary (needed for the member stop and leader change)")
	fs.IntVar(&cfg.Cap, "cap", 10, "fleet-wide session cap")
	fs.IntVar(&cfg.Headroom, "headroom", 1, "server session limit above the cap, for sessions the server has not yet reaped")
	fs.DurationVar(&cfg.TTL, "ttl", 3*time.Second, "etcd lease TTL")
	fs.IntVar(&cfg.Identities, "identities", 8, "identities per process")
	fs.IntVar(&cfg.PerIdentity, "per-identity", 2, "goroutines per identity")
	fs.IntVar(&cfg.MaxSize, "max-size", 2, "pool MaxSize per identity")
	fs.DurationVar(&cfg.Phase, "phase", time.Second, "steady time around each fault")
	fs.BoolVar(&cfg.StopEtcd, "etcd-outage", false, "also stop every etcd member (fail closed) and restart them")
	fs.BoolVar(&quiet, "quiet", false, "no progress output")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, nil
		}
		return true, err
	}
	if fs.NArg() > 0 {
		return true, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.Workers < 1 {
		return true, fmt.Errorf("--fleet must be at least 1 (got %d)", cfg.Workers)
	}
	if etcd != "" {
		cfg.Endpoints = strings.Split(etcd, ",")
	} else if _, err := etcdtest.Binary(); err != nil {
		return true, fmt.Errorf("no etcd: pass --etcd ENDPOINTS, or install the etcd server (apt-get install etcd-server): %w", err)
	}
	if !quiet {
		cfg.Log = stderr
	}
	rep, err := simfleet.Run(ctx, cfg)
	if rep != nil {
		rep.Write(stdout)
	}
	if err != nil {
		return true, err
	}
	if n := len(rep.Violations); n > 0 {
		return true, fmt.Errorf("%d violations", n)
	}
	return true, nil
}
