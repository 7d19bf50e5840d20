package virtual

import (
	"fmt"
)

// samplesPerKind bounds how many violations of each kind the report
// describes.
const samplesPerKind = 3

// checker holds the invariant checks that are not about a single event.
type checker struct {
	e       *engine
	samples map[*uint64]int
}

// violation counts one violation and describes the first few of its kind.
func (c *checker) violation(counter *uint64, format string, args ...any) {
	*counter++
	res := &c.e.res
	if c.samples == nil {
		c.samples = map[*uint64]int{}
	}
	if c.samples[counter] < samplesPerKind {
		c.samples[counter]++
		res.ViolationSamples = append(res.ViolationSamples,
			fmt.Sprintf("t=%.6fs ", float64(c.e.now)/1e9)+fmt.Sprintf(format, args...))
	}
}

// onGrant checks a grant of session s to r before it is recorded:
// double_lease (s already held) and fifo (an older waiter of the same pool
// was passed over while it was not being served by a check).
func (c *checker) onGrant(p *vpool, r *request, s *bconn) {
	v := &c.e.res.Violations
	if s.holder != nil {
		c.violation(&v.DoubleLease, "double lease: session %d granted to acquire %d while acquire %d holds it", s.id, r.h.id, s.holder.h.id)
	}
	if !r.queued {
		return
	}
	older := 0
	for i := p.head; i < r.queueIdx; i++ {
		if q := p.queue[i]; q != nil && q.queued {
			older++
		}
	}
	// Each waiter the pool may legitimately skip is one with a connection
	// being checked for it: at most the checks in flight when the step
	// began (health checks, plus every non-busy connection while a mint is
	// in flight, since any of them may be under a token check).
	if older > p.checkBudget {
		c.violation(&v.FIFOViolations, "fifo: acquire %d of %s granted while %d older waiters queued and at most %d being checked",
			r.h.id, r.ident.name, older, p.checkBudget)
	}
}

// afterStep runs the state machine's own invariant check and the
// harness's limits on what the pool has open or dialing.
func (c *checker) afterStep(p *vpool) {
	e := c.e
	v := &e.res.Violations
	if err := p.sm.CheckInvariants(); err != nil {
		c.violation(&v.StateMachine, "state machine of %s: %v", p.ident.name, err)
	}
	// Sessions count until their close has finished: the server still has
	// them.
	over := p.open+p.dialing+p.closingN > e.cfg.Pool.MaxSize
	if over && !p.overMax {
		c.violation(&v.OverMax, "over max: pool of %s has %d open + %d dialing + %d closing > max size %d",
			p.ident.name, p.open, p.dialing, p.closingN, e.cfg.Pool.MaxSize)
	}
	p.overMax = over
	if total := e.cfg.Pool.MaxTotal; total > 0 {
		over := e.totalOpen+e.totalDialing > total
		if over && !e.totalOver {
			c.violation(&v.OverMax, "over max total: %d open + %d dialing > max total %d", e.totalOpen, e.totalDialing, total)
		}
		e.totalOver = over
	}
}
