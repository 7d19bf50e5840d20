package live

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestFIFOCheckerCountsOnlyClearOvertakes(t *testing.T) {
	f := newFIFOChecker(100*time.Millisecond, 50*time.Millisecond)
	t0 := time.Unix(0, 0)
	// A waits; B starts well after A and is granted; A is granted long after.
	f.waiting("x", 1, t0)
	f.waiting("x", 2, t0.Add(200*time.Millisecond))
	f.done("x", 2, t0.Add(210*time.Millisecond), true)
	f.done("x", 1, t0.Add(400*time.Millisecond), true)
	assert.Equal(t, uint64(1), f.violations())

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
	assert.Equal(t, uint64(1), f.violations())
}

func TestSessionCounterForgivesOnlyCompensatedExcess(t *testing.T) {
	s := newSessionCounter(2, 0)
	s.dialing("x")
	s.dialing("x")
	s.dialing("x") // one over, and a close follows: the pool freed the slot first
	s.gone("x")
	s.settle(time.Now().Add(time.Hour))
	assert.Zero(t, s.violations())

	s.dialing("y")
	s.dialing("y")
	s.dialing("y") // one over, and nothing closes
	s.settle(time.Now())
	assert.Zero(t, s.violations(), "judged only after the grace period")
	s.settle(time.Now().Add(time.Hour))
	assert.Equal(t, uint64(1), s.violations())
	assert.Len(t, s.samples(), 1)
}
