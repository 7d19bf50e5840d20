package manager

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// armedGraceTimers counts the clock's CancelGrace timers not stopped and
// not yet due.
func armedGraceTimers(clock *graceClock) int {
	clock.mu.Lock()
	defer clock.mu.Unlock()
	armed := 0
	for _, tm := range clock.timers {
		if !tm.off && tm.at.Sub(clock.now) == testGrace {
			armed++
		}
	}
	return armed
}

// TestAQuerysWatchLeavesNoGraceTimerArmedOnceItsResultSetClosed: a query
// whose ctx ends while its result set is open (a per-query timeout, a
// request ctx cancelled by a client gone) arms a CancelGrace timer; the
// result set then closes in time, with nothing to cut. Its watch stops the
// timer then: left armed for CancelGrace, it would hold the cut, the Lease
// and through it the closed driver connection.
func TestAQuerysWatchLeavesNoGraceTimerArmedOnceItsResultSetClosed(t *testing.T) {
	d, clock := &stuckDialer{}, newGraceClock()
	m := newStuckManager(t, d, clock, testGrace)
	l, _ := leaseOf(t, m)
	ctx, cancel := context.WithCancel(context.Background())
	rows, err := l.Conn().QueryContext(ctx, "SELECT n", nil)
	require.NoError(t, err)
	cancel()
	clock.awaitGrace(t) // the query's watch asked for its grace
	require.NoError(t, rows.Close(), "the result set closes in time: nothing to cut")
	l.Release(nil)
	// The ctx's callback arms the timer and then stores how to stop it;
	// a Stop that came between the two leaves the stopping to the callback
	// (pastctx.Calls.armGrace), on its goroutine: wait for it.
	clock.awaitGraceStop(t)

	runtime.KeepAlive(l)
	assert.Zero(t, armedGraceTimers(clock), "a CancelGrace timer is still armed after the result set closed and the lease was released (it holds the Lease for %s)", time.Duration(testGrace))
	clock.advance(time.Hour)
	assert.Zero(t, d.aborts.Load())
}
