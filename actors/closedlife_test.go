package actors

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClosedPoolsShareClosedLifeWithoutCountingOnIt: every closed pool
// starts its work (a last dial's retry, a check) under the one shared,
// already cancelled closedLife, which must stay untouched: pool actors run
// on many goroutines at once, and a count kept on it would be a data race
// between closed pools (reported by -race) as well as a count that only
// grows. Two closed pools start and finish work at the same time here.
// Kills the mutant that drops the closedLife case from workStarted.
func TestClosedPoolsShareClosedLifeWithoutCountingOnIt(t *testing.T) {
	pools := []*poolActor{{}, {}}
	for _, a := range pools {
		a.workStarted() // work in flight when the pool closes
		a.closeLife()
	}
	live := make([]int, len(pools)) // works started under a live ctx, per pool
	var wg sync.WaitGroup
	for i, a := range pools {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if a.workStarted().Err() == nil {
					live[i]++
				}
				a.workDone()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, []int{0, 0}, live, "work started after the close runs under a cancelled ctx")
	assert.Zero(t, closedLife.inFlight, "a closed pool counted its work on the shared closedLife")
	for _, a := range pools {
		require.Same(t, closedLife, a.life)
		require.Error(t, a.workStarted().Err(), "still closed")
	}
	assert.Zero(t, closedLife.inFlight)
}
