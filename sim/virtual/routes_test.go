package virtual

import (
	"testing"
	"time"

	"github.com/idpool/idpool/sim/workload"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// racingRoutes makes callers' direct sends race retirements often: pools
// retire after 20ms idle and each actor hop takes 1ms, so a caller often
// counts itself in a route, or sends over it, while the manager is closing
// it.
func racingRoutes(cfg *workload.Config) {
	cfg.Pool.PoolIdleTimeout = 20 * time.Millisecond
	cfg.Latency.Mailbox = time.Millisecond
}

// TestDirectRoutesRaceRetirement: callers send straight to pools over their
// routes while those pools retire, and at the end while they close with the
// manager. The run must have had such races (refused retirements are the
// manager seeing a send in flight) and hold every invariant: no acquire
// reaches a retired or stopped pool, no route outlives its pool, and every
// acquire is answered exactly once (lost_waiters).
func TestDirectRoutesRaceRetirement(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		cfg := short()
		cfg.Seed = seed
		racingRoutes(&cfg)
		r := run(t, cfg)
		require.Zero(t, r.Violations.Total(), "seed %d: %+v %v", seed, r.Violations, r.ViolationSamples)
		assert.Positive(t, r.DirectSends, "callers must send over routes")
		assert.Positive(t, r.PoolsRetired)
		assert.Positive(t, r.RetiresRefused, "seed %d: some retirement must have raced a send", seed)
	}
}
