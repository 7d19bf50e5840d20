package virtual

import (
	"bytes"
	"testing"
	"time"

	"github.com/idpool/idpool/sim/report"
	"github.com/idpool/idpool/sim/workload"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// short is the default workload cut to a few virtual seconds, with every
// fault and pool timer scaled to still fire several times.
func short() workload.Config {
	cfg := workload.Default()
	cfg.Duration = 3 * time.Second
	cfg.Workers = 24
	cfg.TokenLifetime = 1500 * time.Millisecond
	cfg.Pool.TokenThreshold = 400 * time.Millisecond
	cfg.Pool.MaxLifetime = 2 * time.Second
	cfg.Pool.IdleTimeout = 500 * time.Millisecond
	cfg.Pool.PoolIdleTimeout = 700 * time.Millisecond
	cfg.Pool.HealthCheckAfter = 200 * time.Millisecond
	cfg.SlowQuery = 30 * time.Millisecond
	cfg.Faults.KillRate = 20
	cfg.Faults.OutageEvery = time.Second
	cfg.Faults.OutageFor = 150 * time.Millisecond
	cfg.RotationRate = 0.2
	cfg.OneShot = 0.01
	return cfg
}

func run(t *testing.T, cfg workload.Config) *report.Result {
	t.Helper()
	r, err := Run(cfg, Options{})
	require.NoError(t, err)
	return r
}

func jsonOf(t *testing.T, r *report.Result) []byte {
	t.Helper()
	r.WallS, r.AcquiresPerWallS = 0, 0
	var b bytes.Buffer
	require.NoError(t, report.WriteJSON(&b, r))
	return b.Bytes()
}

func TestSameSeedSameReport(t *testing.T) {
	cfg := short()
	cfg.Seed = 7
	a, b := jsonOf(t, run(t, cfg)), jsonOf(t, run(t, cfg))
	require.Equal(t, string(a), string(b))
	cfg.Seed = 8
	require.NotEqual(t, string(a), string(jsonOf(t, run(t, cfg))), "a different seed must give a different run")
}

// TestCleanRunsHoldEveryInvariant runs workloads that stress different
// paths of the pool, with no bug injected: every invariant must hold, and
// the run must actually have exercised what it is about.
func TestCleanRunsHoldEveryInvariant(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tweak func(*workload.Config)
		check func(*testing.T, *report.Result)
	}{
		{"default short", func(*workload.Config) {}, func(t *testing.T, r *report.Result) {
			assert.Positive(t, r.Rotations, "tokens must rotate")
			assert.Positive(t, r.PoolsRetired, "idle pools must retire")
			assert.Positive(t, r.SessionsKilled)
			assert.Positive(t, r.TokenOutages)
			assert.Positive(t, r.ErrorsByKind["token_outage"]+r.ErrorsByKind["session_killed"])
			assert.Greater(t, r.Hits, r.PhysicalOpens, "most grants must be pool hits")
		}},
		{"poisson", func(c *workload.Config) { c.Arrival, c.Rate = "poisson", 5000 }, func(t *testing.T, r *report.Result) {
			assert.InDelta(t, 5000*3, float64(r.Acquires), 1500)
		}},
		{"contended tiny pools", func(c *workload.Config) {
			c.Identities, c.Pool.MaxSize, c.Workers, c.OneShot = 3, 2, 48, 0
			c.AcquireTimeout = 40 * time.Millisecond
		}, func(t *testing.T, r *report.Result) {
			assert.Positive(t, r.Timeouts, "acquires must time out under this contention")
		}},
		{"max waiters", func(c *workload.Config) {
			c.Identities, c.Pool.MaxSize, c.Pool.MaxWaiters, c.OneShot, c.Workers = 2, 2, 3, 0, 8
			c.Think = workload.Dist{Kind: workload.Const, A: time.Millisecond}
		},
			func(t *testing.T, r *report.Result) { assert.Positive(t, r.ErrorsByKind["exhausted"]) }},
		{"global cap", func(c *workload.Config) {
			// The manager has no way yet to make a pool give up an idle
			// connection at the cap, so a cap below the pools' idle
			// connections starves dials: they time out at the gate.
			c.Identities, c.OneShot = 10, 0
			c.Pool.MaxTotal, c.Pool.DialTimeout, c.Pool.PoolIdleTimeout = 15, 300*time.Millisecond, 3*time.Second
		}, func(t *testing.T, r *report.Result) {
			assert.Positive(t, r.ErrorsByKind["dial_timeout"], "dials must time out waiting for a permit")
			for _, s := range r.Series {
				assert.LessOrEqual(t, s.Open, 15)
			}
		}},
		// PoolIdleTimeout stays well above every dial, mint and hold below
		// (TestLongLeasesDoNotSpinPoolTimers covers leases that outlive it).
		{"min size", func(c *workload.Config) {
			// Pools that keep MinSize refill all the time, so they do not
			// retire here.
			c.Pool.MinSize, c.Faults.RefuseLogin, c.Pool.PoolIdleTimeout = 2, 0.2, 0
		}, func(t *testing.T, r *report.Result) { assert.Positive(t, r.ErrorsByKind["login_refused"]) }},
		{"no health checks, no lifetime", func(c *workload.Config) { c.Pool.HealthCheckAfter, c.Pool.MaxLifetime = 0, 0 }, nil},
		{"slow logins and mints", func(c *workload.Config) {
			c.Faults.SlowLogin = 0.3
			c.Latency.Mint = workload.Dist{Kind: workload.Exp, A: 300 * time.Millisecond}
			c.Pool.MintTimeout = 500 * time.Millisecond
			c.Pool.PoolIdleTimeout = 5 * time.Second
		}, func(t *testing.T, r *report.Result) {
			assert.Positive(t, r.ErrorsByKind["token_timeout"]+r.ErrorsByKind["dial_timeout"])
		}},
		{"slow mailboxes refuse retirements", func(c *workload.Config) {
			c.Latency.Mailbox = 20 * time.Millisecond
			c.Pool.PoolIdleTimeout = 200 * time.Millisecond
			c.SlowQuery = 20 * time.Millisecond
			c.Faults.SlowLogin = 0
			c.Think = workload.Dist{Kind: workload.Exp, A: 60 * time.Millisecond}
		}, func(t *testing.T, r *report.Result) {
			assert.Positive(t, r.RetiresRefused, "a retirement must be refused while an acquire is in flight")
			assert.Positive(t, r.PoolsRetired)
		}},
		{"ops limit", func(c *workload.Config) { c.Duration, c.Ops = 0, 5000 }, func(t *testing.T, r *report.Result) {
			assert.Equal(t, uint64(5000), r.Acquires)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := short()
			tc.tweak(&cfg)
			r := run(t, cfg)
			assert.Zero(t, r.Violations.Total(), "violations: %+v\n%v", r.Violations, r.ViolationSamples)
			assert.Positive(t, r.Acquires)
			assert.Positive(t, r.Granted)
			assert.Positive(t, r.TokenMints)
			assert.Equal(t, r.Acquires, r.Granted+r.Timeouts+r.Errors-opErrors(r), "every acquire ends exactly once")
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

// opErrors counts errors of statements, as opposed to acquires.
func opErrors(r *report.Result) uint64 {
	var n uint64
	for _, k := range []string{"session_killed", "session_closed", "token_expired", "wrong_identity"} {
		n += r.ErrorsByKind[k]
	}
	return n
}

// TestEveryInjectedBugIsCaught is the mutation test of the checker: each
// bug compiled into the harness must show up in the violation it names.
func TestEveryInjectedBugIsCaught(t *testing.T) {
	for _, bug := range workload.Bugs() {
		t.Run(bug.Name, func(t *testing.T) {
			cfg := short()
			cfg.InjectBug = bug.Name
			switch bug.Name {
			case "drop-reply":
				// A lease that never comes back keeps its pool from ever
				// retiring; without retirement the run stays short.
				cfg.Pool.PoolIdleTimeout = 0
			case "steal-for-fill":
				cfg.Pool.MinSize, cfg.Pool.MaxSize, cfg.Pool.MaxTotal, cfg.Identities = 2, 4, 2, 2
				cfg.Pool.PoolIdleTimeout = 0
			case "skip-sent-check":
				// Races between a caller's send and a retirement need
				// hops long enough to overlap (see racingRoutes).
				racingRoutes(&cfg)
			case "ignore-max":
				// The bug strikes on dials that fill a pool; with one
				// connection per pool every dial does.
				cfg.Pool.MaxSize = 1
			}
			r := run(t, cfg)
			n, ok := r.Violations.ByName(bug.Violation)
			require.True(t, ok, "unknown violation %q", bug.Violation)
			assert.Positive(t, n, "%s not caught: %+v", bug.Name, r.Violations)
		})
	}
}

func TestInvalidConfigIsRejected(t *testing.T) {
	cfg := short()
	cfg.Workers = 0
	cfg.InjectBug = "no-such-bug"
	_, err := Run(cfg, Options{})
	require.ErrorContains(t, err, "workers")
	require.ErrorContains(t, err, "no-such-bug")
}

func TestProgressIsReported(t *testing.T) {
	cfg := short()
	cfg.Duration = 10 * time.Second
	var snaps []report.Snapshot
	_, err := Run(cfg, Options{ProgressEvery: time.Nanosecond, Progress: func(s report.Snapshot) { snaps = append(snaps, s) }})
	require.NoError(t, err)
	require.NotEmpty(t, snaps)
	last := snaps[len(snaps)-1]
	assert.Equal(t, "virtual", last.Mode)
	assert.Positive(t, last.Acquires)
	assert.InDelta(t, 10, last.Total, 0.001)
}
