package fleet

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// fleet_over_cap holds on each count on its own: the server's peak within
// its limit with no login refused there, no stretch above the cap longer
// than its bound, and etcd's permits within the cap.
func TestOverCapViolationsCheckEveryCount(t *testing.T) {
	ok := func() *Report {
		return &Report{Cap: 10, Limit: 13, PeakSessions: 11, PeakHeld: 10,
			OverCapStretches: 1, OverCapLongest: 700 * time.Microsecond, OverCapBound: overCapBound}
	}
	assert.Empty(t, overCapViolations(ok()), "a peak of cap+1 for a reap's moment, within the limit")
	for name, c := range map[string]struct {
		mend func(*Report)
		want string
	}{
		"peak above the limit": {func(r *Report) { r.PeakSessions = 14 }, "server peak 14 sessions against a cap of 10 (limit 13)"},
		"login refused":        {func(r *Report) { r.LimitRefusals = 1 }, "1 logins refused at the limit"},
		"a long stretch":       {func(r *Report) { r.OverCapLongest = overCapBound + time.Millisecond }, "more sessions than the cap of 10 for 101ms at a stretch (bound 100ms)"},
		"etcd above the cap":   {func(r *Report) { r.PeakHeld = 11 }, "etcd recorded 11 permits held at once against a cap of 10"},
	} {
		r := ok()
		c.mend(r)
		vs := overCapViolations(r)
		if assert.Len(t, vs, 1, name) {
			assert.Contains(t, vs[0], c.want, name)
			assert.Contains(t, vs[0], "fleet_over_cap: ", name)
		}
	}
	r := ok()
	r.OverCapLongest = overCapBound
	assert.Empty(t, overCapViolations(r), "the bound itself is allowed")
}
