package bench

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A timed overload run ended at its duration however few acquires it had
// seen: --quick --run-time 1ms ran 6 ms, about 50 acquires a peer, whose
// "p99" was their slowest (the overload target judged by it). A run now
// goes on until it has overloadMinSamples waits, so its p99 has ten slower
// ones above it.
func TestRunHoldGoesOnUntilItHasEnoughSamplesForItsP99(t *testing.T) {
	const want = 20
	p := &countingPool{}
	m, err := runHold(context.Background(), p, 1, time.Millisecond, time.Nanosecond, want)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, m["samples"], float64(want))
	assert.EqualValues(t, p.acquires.Load(), p.releases.Load(), "every acquire released")
}

// The overload rows rest on enough waits for a p99 with ten slower ones
// above it.
func TestOverloadMinSamplesGiveTheP99TenSlowerWaits(t *testing.T) {
	assert.GreaterOrEqual(t, overloadMinSamples, 1000)
}

// A run cut short by ctx reports ctx's error, not the figures it had,
// however few samples it had.
func TestRunHoldStopsShortOfItsSamplesWhenCtxEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := runHold(ctx, &countingPool{}, 1, time.Millisecond, time.Hour, 1<<30)
	assert.ErrorIs(t, err, context.Canceled)
}
