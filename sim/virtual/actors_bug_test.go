package virtual

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLongLeasesDoNotSpinPoolTimers is the regression test for a bug the
// simulation found in actors.Pool: a lease held longer than the pool idle
// timeout made every Tick ask for another Tick at the same instant. The
// checker reports such a spin under state_machine.
func TestLongLeasesDoNotSpinPoolTimers(t *testing.T) {
	cfg := short()
	cfg.SlowQuery = time.Second
	cfg.Pool.PoolIdleTimeout = 500 * time.Millisecond
	r := run(t, cfg)
	require.Zero(t, r.Violations.StateMachine, "%v", r.ViolationSamples)
}
