package actors

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAnAcquireAfterARefusedRetirementAsksForATickWithinRetireAfter: a
// pool whose MinSize fill keeps failing asks to retire with its next Tick
// set at the end of its blocking period, far beyond RetireAfter. The
// manager refuses (an acquire was on its way); that acquire must bring the
// pool's next Tick within RetireAfter, so that retirement is asked again
// then, not only when the blocking period ends. Kills the mutant that asks
// for the retirement wake only when no wake is set at all.
func TestAnAcquireAfterARefusedRetirementAsksForATickWithinRetireAfter(t *testing.T) {
	h := newHarness(t, PoolConfig{MinSize: 1, MaxSize: 1, RetireAfter: time.Minute, DialBackoff: time.Hour})
	h.finishDial(errors.New("login failed"))
	h.finishDial(errors.New("login failed")) // the second in a row: blocked
	until := h.p.blockedUntil()
	require.True(t, until.After(h.now.Add(2*time.Minute)), "blocked for about an hour: %s", until)
	h.advance(time.Minute)
	h.tick()
	require.Len(t, h.retires, 1, "quiet and empty for RetireAfter")
	require.Equal(t, until, h.p.wakeAt, "the next Tick ends the blocking period")

	// The manager refuses: an acquire was already on its way.
	h.wakes = nil
	h.acquire()
	require.NotEmpty(t, h.wakes, "the acquire asks for a Tick")
	assert.False(t, h.wakes[len(h.wakes)-1].After(h.now.Add(time.Minute)), "within RetireAfter, not at the blocking period's end")
	h.advance(time.Minute)
	h.tick()
	assert.Len(t, h.retires, 2, "asked again a RetireAfter after the acquire")
}
