package virtual

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestRestOpensNothingWhenMinSizeExceedsMaxTotal: two identities each
// wanting MinSize 2 under MaxTotal 2 cannot both have their minimum. Before
// fills yielded to the cap, the pools took connections from each other for
// ever, tens of thousands of opens per second with no traffic. At rest now
// nothing opens beyond refills after real losses.
func TestRestOpensNothingWhenMinSizeExceedsMaxTotal(t *testing.T) {
	cfg := short()
	cfg.Identities = 2
	cfg.Pool.MinSize, cfg.Pool.MaxSize, cfg.Pool.MaxTotal = 2, 4, 2
	cfg.Pool.PoolIdleTimeout = 0
	cfg.Pool.MaxLifetime, cfg.TokenLifetime = time.Hour, 2*time.Hour
	cfg.Faults.KillRate, cfg.Faults.OutageEvery, cfg.RotationRate = 0, 0, 0
	r := run(t, cfg)
	assert.Zero(t, r.Violations.Churn, "%v", r.ViolationSamples)
	assert.Zero(t, r.Violations.Total(), "%+v\n%v", r.Violations, r.ViolationSamples)
}
