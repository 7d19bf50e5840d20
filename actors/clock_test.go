package actors

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// requireBetween checks that got is not before before nor after after, by
// their monotonic readings, and that its wall reading is as close.
func requireBetween(t *testing.T, before, got, after time.Time) {
	t.Helper()
	require.False(t, got.Before(before), "SystemClock.Now %v before an earlier time.Now %v", got, before)
	require.False(t, got.After(after), "SystemClock.Now %v after a later time.Now %v", got, after)
	wall := got.Round(0)
	require.False(t, wall.Before(before.Round(0).Add(-clockRebase)), "wall reading %v far behind %v", wall, before)
	require.False(t, wall.After(after.Round(0).Add(clockRebase)), "wall reading %v far ahead of %v", wall, after)
}

func TestSystemClockNowAgreesWithTimeNow(t *testing.T) {
	var c SystemClock
	for range 1000 {
		before := time.Now()
		got := c.Now()
		after := time.Now()
		requireBetween(t, before, got, after)
	}
}

func TestSystemClockNowNeverGoesBackwards(t *testing.T) {
	var c SystemClock
	prev := c.Now()
	for range 10000 {
		now := c.Now()
		require.False(t, now.Before(prev), "%v after %v", now, prev)
		prev = now
	}
}

func TestSystemClockTakesANewBaseOnceItIsOld(t *testing.T) {
	var c SystemClock
	// A base older than clockRebase is replaced at the next reading, so a
	// step of the wall clock shows within clockRebase.
	old := time.Now().Add(-2 * clockRebase)
	clockBase.Store(&old)
	before := time.Now()
	got := c.Now()
	after := time.Now()
	requireBetween(t, before, got, after)
	require.NotSame(t, &old, clockBase.Load(), "the old base was kept")
}

func TestSystemClockIsSafeForConcurrentUse(t *testing.T) {
	var c SystemClock
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				if g == 0 && i%100 == 0 {
					old := time.Now().Add(-2 * clockRebase)
					clockBase.Store(&old) // force rebases while others read
				}
				before := time.Now()
				got := c.Now()
				after := time.Now()
				if got.Before(before) || got.After(after) {
					t.Errorf("SystemClock.Now %v outside [%v, %v]", got, before, after)
					return
				}
			}
		})
	}
	wg.Wait()
}
