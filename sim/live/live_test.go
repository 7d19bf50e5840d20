package live

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idpool/idpool/internal/guardhook"
	"github.com/idpool/idpool/sim/report"
	"github.com/idpool/idpool/sim/workload"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// short is a live workload of about a second, with every fault scaled to
// strike within it.
func short() workload.Config {
	cfg := workload.Default()
	cfg.Duration = 1200 * time.Millisecond
	cfg.Workers = 16
	cfg.TokenLifetime = 900 * time.Millisecond
	cfg.Pool.TokenThreshold = 300 * time.Millisecond
	cfg.Pool.MaxLifetime = time.Second
	cfg.Pool.IdleTimeout = 300 * time.Millisecond
	cfg.Pool.PoolIdleTimeout = 400 * time.Millisecond
	cfg.Pool.HealthCheckAfter = 100 * time.Millisecond
	cfg.SlowQuery = 20 * time.Millisecond
	cfg.Faults.KillRate = 30
	cfg.Faults.OutageEvery = 500 * time.Millisecond
	cfg.Faults.OutageFor = 100 * time.Millisecond
	cfg.RotationRate = 1
	cfg.OneShot = 0.02
	return cfg
}

func TestLiveRunHoldsEveryInvariant(t *testing.T) {
	var snaps int
	r, err := Run(context.Background(), short(), NewMemDB(), Options{
		ProgressEvery: time.Millisecond, Progress: func(report.Snapshot) { snaps++ }})
	require.NoError(t, err)
	assert.Zero(t, r.Violations.Total(), "%+v\n%v", r.Violations, r.ViolationSamples)
	assert.Equal(t, "live", r.Mode)
	assert.Equal(t, "memdb", r.Backend)
	assert.Positive(t, r.Granted)
	assert.Positive(t, r.Hits)
	assert.Positive(t, r.PhysicalOpens)
	assert.Positive(t, r.TokenMints)
	assert.Positive(t, r.SessionsKilled)
	assert.Positive(t, r.TokenOutages)
	assert.Positive(t, r.PoolsRetired, "idle pools must retire")
	assert.NotEmpty(t, r.Series)
	assert.Positive(t, snaps, "progress must be reported")
	assert.Equal(t, r.Acquires, r.Granted+r.Timeouts+acquireErrors(r), "every acquire ends exactly once")
}

func acquireErrors(r *report.Result) uint64 {
	n := r.Errors
	for _, k := range []string{"session_killed", "token_expired", "statement_timeout", "statement_other"} {
		n -= r.ErrorsByKind[k]
	}
	return n
}

func TestLiveOpsLimitAndPoissonArrivals(t *testing.T) {
	cfg := short()
	cfg.Duration, cfg.Ops = 0, 300
	cfg.Arrival, cfg.Rate = "poisson", 3000
	r, err := Run(context.Background(), cfg, NewMemDB(), Options{})
	require.NoError(t, err)
	assert.Equal(t, uint64(300), r.Acquires)
	assert.Zero(t, r.Violations.Total(), "%+v\n%v", r.Violations, r.ViolationSamples)
}

func TestLiveGlobalCap(t *testing.T) {
	cfg := short()
	cfg.Pool.MaxTotal = 12
	r, err := Run(context.Background(), cfg, NewMemDB(), Options{})
	require.NoError(t, err)
	assert.Zero(t, r.Violations.Total(), "%+v\n%v", r.Violations, r.ViolationSamples)
	for _, s := range r.Series {
		assert.LessOrEqual(t, s.Open, 12)
	}
}

func TestLiveRejectsInjectedBugs(t *testing.T) {
	cfg := short()
	cfg.InjectBug = "drop-reply"
	_, err := Run(context.Background(), cfg, NewMemDB(), Options{})
	require.ErrorContains(t, err, "virtual mode only")
}

// TestLiveTDSBackend runs the workload through go-mssqldb and the *sql.DB
// facade against the embedded SQL Server, with tokens from the embedded
// Entra ID.
func TestLiveTDSBackend(t *testing.T) {
	cfg := short()
	// A count of acquires, not a duration: the assertions below need some
	// volume (abandon is 5% of the mix; a hit needs an identity's second
	// acquire), and a loaded machine ran as few as ~40 acquires in 1.5 s
	// and once reported no hit. 500 acquires take under a second here; fewer
	// identities make every one of them a likely reuse.
	cfg.Duration, cfg.Ops = 0, 500
	cfg.Identities = 8
	// Tokens from sim/entra carry whole seconds; keep them well above the
	// threshold.
	cfg.TokenLifetime = 3 * time.Second
	cfg.Pool.TokenThreshold = time.Second
	r, err := Run(context.Background(), cfg, NewTDS(), Options{})
	require.NoError(t, err)
	t.Logf("acquires %d, hits %d, opens %d, killed %d, ops %v, wall %.2fs, suspects %v", r.Acquires, r.Hits, r.PhysicalOpens, r.SessionsKilled, r.Ops, r.WallS, r.Suspects)
	assert.Zero(t, r.Violations.Total(), "%+v\n%v", r.Violations, r.ViolationSamples)
	assert.Equal(t, "tds", r.Backend)
	assert.Positive(t, r.Granted)
	assert.Positive(t, r.Hits)
	assert.Positive(t, r.TokenMints)
	assert.Positive(t, r.Ops["abandon"], "abandoned transactions must be reset on release")
	assert.Positive(t, r.SessionsKilled)
}

// TestLiveCatchesASkippedLeaseGuard is the live mutation test of the
// stale_lease_use invariant: with the manager's lease guard switched off
// (the skip-lease-guard bug, an internal test hook), workers' calls on their
// released leases reach the connections, and the checker must say so, with
// samples; with the guard on (every other live test) they never do.
func TestLiveCatchesASkippedLeaseGuard(t *testing.T) {
	cfg := short()
	cfg.InjectBug = "skip-lease-guard"
	r, err := Run(context.Background(), cfg, NewMemDB(), Options{})
	require.NoError(t, err)
	assert.Positive(t, r.Violations.StaleLeaseUse, "%+v", r.Violations)
	assert.Equal(t, "skip-lease-guard", r.InjectedBug)
	var sampled bool
	for _, s := range r.ViolationSamples {
		sampled = sampled || strings.Contains(s, "stale lease use")
	}
	assert.True(t, sampled, "a sample describes it: %v", r.ViolationSamples)
	assert.False(t, guardhook.SkipLeaseGuard.Load(), "the guard is back on after the run")
}

// A run stopped by its caller's ctx (main's, on SIGINT or SIGTERM) before
// its duration reported "all invariants held" as if it had run to the end;
// and a long run showed no progress and sampled nothing for Duration/200
// (five hours at --duration 1000h). The report now says it was
// interrupted, and progress comes at its own pace whatever the duration.
func TestLiveRunStoppedByItsCallerSaysSo(t *testing.T) {
	cfg := short()
	cfg.Duration = 1000 * time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	progressed := make(chan struct{})
	var once sync.Once
	done := make(chan *report.Result, 1)
	go func() {
		r, err := Run(ctx, cfg, NewMemDB(), Options{ProgressEvery: time.Millisecond, Progress: func(report.Snapshot) {
			once.Do(func() { close(progressed) })
		}})
		assert.NoError(t, err)
		done <- r
	}()
	select {
	case <-progressed:
	case <-time.After(30 * time.Second):
		t.Fatal("no progress within 30s of a 1000h run")
	}
	cancel()
	r := <-done
	require.NotNil(t, r)
	assert.True(t, r.Interrupted)
	var text strings.Builder
	require.NoError(t, report.WriteText(&text, r))
	assert.Contains(t, text.String(), "interrupted")
	assert.NotContains(t, text.String(), "all invariants held\n")
}

// A run that reaches its duration is not interrupted.
func TestLiveRunThatEndsIsNotInterrupted(t *testing.T) {
	cfg := short()
	cfg.Duration, cfg.Ops = 0, 100
	r, err := Run(context.Background(), cfg, NewMemDB(), Options{})
	require.NoError(t, err)
	assert.False(t, r.Interrupted)
	var text strings.Builder
	require.NoError(t, report.WriteText(&text, r))
	assert.Contains(t, text.String(), "all invariants held\n")
}
