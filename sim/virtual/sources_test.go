package virtual

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestSourcesDueAfterTheEndAreNoLivelock: a source of events (arrivals,
// kills, outages, rotations) whose next event falls far past the run's end
// (here the first poisson arrival, at a rate of one per thirty years) does
// nothing once the run stops. The engine used to jump the clock to it after
// every pool had closed and report a livelock: `idpool sim --arrival poisson
// --rate 1e-9` failed a run that made no acquire at all.
func TestSourcesDueAfterTheEndAreNoLivelock(t *testing.T) {
	cfg := short()
	cfg.Arrival, cfg.Rate = "poisson", 1e-9
	cfg.Faults.KillRate = 1e-9
	cfg.RotationRate = 1e-9
	r := run(t, cfg)
	assert.Zero(t, r.Acquires)
	assert.Zero(t, r.Violations.Total(), "violations: %+v", r.Violations)
}

// TestOpsEndingARunLongBeforeItsDurationIsNoLivelock: --ops stops the run
// at its Nth acquire, long before --duration, and the run's own end (the
// stop event at Duration) and its next sample (Duration/200 later) were
// still queued when every pool had closed; the clock jumped to them and the
// run reported a livelock: `idpool sim --mode virtual --ops 1000 --duration
// 1h` failed a run that did nothing wrong.
func TestOpsEndingARunLongBeforeItsDurationIsNoLivelock(t *testing.T) {
	cfg := short()
	cfg.Ops = 200
	cfg.Duration = time.Hour
	r := run(t, cfg)
	assert.EqualValues(t, 200, r.Acquires)
	assert.Zero(t, r.Violations.Total(), "violations: %+v", r.Violations)
}
