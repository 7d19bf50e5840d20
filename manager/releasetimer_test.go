package manager

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReleaseLeavesNoGraceTimerArmedForAResultSetClosedInTime: a result
// set left open whose Close returns at once. closeLeftRows' watch
// (pastctx.StartEnded) asks the Clock for a CancelGrace timer; once the
// Close has returned in time, Release stops it. A timer left armed would
// hold the Lease, and through it the closed driver connection and its
// buffers (pgx's grow to the largest message read), for CancelGrace after
// every such Release: with CancelGrace raised (a minute, say), memory held
// would grow with their rate.
func TestReleaseLeavesNoGraceTimerArmedForAResultSetClosedInTime(t *testing.T) {
	d, clock := &stuckDialer{}, newGraceClock()
	m := newStuckManager(t, d, clock, testGrace)
	l, _ := leaseOf(t, m)
	_, err := l.Conn().QueryContext(context.Background(), "SELECT n", nil)
	require.NoError(t, err)
	l.Release(nil) // the result set's Close returns at once
	awaitCloses(t, d, 1)
	clock.awaitGrace(t)

	runtime.KeepAlive(l)
	assert.Zero(t, armedGraceTimers(clock), "a CancelGrace timer is still armed after Release returned (it holds the Lease for %s)", time.Duration(testGrace))
}
