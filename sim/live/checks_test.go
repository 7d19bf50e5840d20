package live

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/idpool/idpool/sim/report"
)

func TestFIFOCheckerCountsOnlyClearOvertakes(t *testing.T) {
	f := newFIFOChecker(100*time.Millisecond, 50*time.Millisecond)
	t0 := time.Unix(0, 0)
	// A waits; B starts well after A and is granted; A is granted long after.
	f.waiting("x", 1, t0)
	f.waiting("x", 2, t0.Add(200*time.Millisecond))
	f.done("x", 2, t0.Add(210*time.Millisecond), true)
	f.done("x", 1, t0.Add(400*time.Millisecond), true)
	assert.Equal(t, uint64(1), f.overtakes())

	// Within the margin, or noticed within the grace: not counted.
	f.waiting("y", 1, t0)
	f.waiting("y", 2, t0.Add(50*time.Millisecond))
	f.done("y", 2, t0.Add(60*time.Millisecond), true)
	f.done("y", 1, t0.Add(500*time.Millisecond), true)
	f.waiting("z", 1, t0)
	f.waiting("z", 2, t0.Add(200*time.Millisecond))
	f.done("z", 2, t0.Add(210*time.Millisecond), true)
	f.done("z", 1, t0.Add(240*time.Millisecond), true)
	// Another login's grants never overtake.
	f.waiting("a", 1, t0)
	f.waiting("b", 2, t0.Add(time.Second))
	f.done("b", 2, t0.Add(time.Second), true)
	f.done("a", 1, t0.Add(3*time.Second), true)
	assert.Equal(t, uint64(1), f.overtakes())
	var res report.Result
	f.suspects.into(&res)
	assert.Equal(t, []string{"fifo_overtake: acquire 1 of x, started 200ms before acquire 2, was still waiting 190ms after that one was granted"}, res.SuspectSamples)
	assert.Zero(t, res.Violations.Total(), "an overtake seen from outside is a suspect, not a violation")
}

// TestSessionCounterIsExact: the counter judges at once, with no grace for a
// close that follows: the pool keeps a slot until the session's close has
// returned, so one dial over the limit is a breach whatever comes next.
func TestSessionCounterIsExact(t *testing.T) {
	s := newSessionCounter(2, 3)
	s.dialing("x")
	s.dialing("x")
	s.gone("x")
	s.dialing("x") // back to 2: at the limit, not over
	s.dialing("y")
	assert.Zero(t, s.violations())

	s.dialing("x") // 3 for x, 4 in total
	s.gone("x")
	assert.EqualValues(t, 2, s.violations(), "one over MaxSize and one over MaxTotal, though a close followed")
	assert.Equal(t, []string{
		"over max: x has 3 sessions (dials included) > max size 2",
		"over max total: 4 sessions (dials included) > max total 3",
	}, s.samples())
}

// TestExpiredUseBlamesThePoolOnlyWhenItMust: a token that could not have
// passed the pool's threshold check at any instant after the acquire started
// is a violation; one that expired while the lease was held is a suspect.
func TestExpiredUseBlamesThePoolOnlyWhenItMust(t *testing.T) {
	start := time.Unix(100, 0)
	threshold := 300 * time.Millisecond
	v, text := expiredUse(7, start, start.Add(200*time.Millisecond), start.Add(250*time.Millisecond), threshold)
	assert.True(t, v, "granted with 200ms left under a 300ms threshold")
	assert.Equal(t, "expired token use: session 7 used 50ms after its token expired; the token had 200ms left when the acquire started, under the 300ms threshold", text)

	v, text = expiredUse(7, start, start.Add(400*time.Millisecond), start.Add(time.Second), threshold)
	assert.False(t, v, "the lease was held past the threshold: the pool could not take it back")
	assert.Contains(t, text, "held past the 300ms threshold")
}

// TestFinishGivesEveryViolationASample: whatever a backend counts, the
// report describes; a suspect never becomes a violation.
func TestFinishGivesEveryViolationASample(t *testing.T) {
	r := &runner{hist: report.NewLatencyHist(), fifo: newFIFOChecker(time.Millisecond, time.Millisecond)}
	var odd suspects
	odd.add("token_expired_during_lease", "session %d", 3)
	fin := Final{Samples: []string{"over max: x has 3 sessions"}, Suspects: &odd}
	fin.Violations.OverMax = 1
	r.finish(fin, time.Second)
	assert.EqualValues(t, 1, r.res.Violations.Total())
	assert.Equal(t, []string{"over max: x has 3 sessions"}, r.res.ViolationSamples)
	assert.Equal(t, map[string]uint64{"token_expired_during_lease": 1}, r.res.Suspects)
	assert.Equal(t, []string{"token_expired_during_lease: session 3"}, r.res.SuspectSamples)
}
