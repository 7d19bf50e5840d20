package virtual

import (
	"time"

	"github.com/idpool/idpool/messages"
	"github.com/idpool/idpool/sim/report"
)

// poolTotals sums the counters of pool snapshots.
type poolTotals struct {
	hits, opens, mints, rotations, staleDrained uint64
	closes                                      map[string]uint64
}

func (t *poolTotals) add(s messages.PoolStats) {
	t.hits += s.Hits
	t.opens += s.Opens
	t.mints += s.TokenMints
	t.rotations += s.Rotations
	t.staleDrained += s.StaleDrained
	if t.closes == nil {
		t.closes = map[string]uint64{}
	}
	for k, v := range s.Closes {
		t.closes[k] += v
	}
}

// sample records one point of the time series.
func (e *engine) sample() {
	if e.closedAll {
		return
	}
	e.res.Series = append(e.res.Series, report.Sample{
		T: time.Duration(e.now).Seconds(), Acquires: e.res.Acquires, TokenMints: e.mints,
		Violations: e.res.Violations.Total(), Open: len(e.openList), Waiters: e.waiting, Pools: e.pools,
	})
	if !e.stopping {
		every := max(e.cfg.Duration/200, 10*time.Millisecond)
		e.schedule(event{at: e.at(every), kind: evSample})
	}
}

// finish settles the report once every event has run: what is still open
// at the server leaked, and so did any acquire never answered.
func (e *engine) finish() {
	v := &e.res.Violations
	for _, c := range e.openList {
		e.checks.violation(&v.LeakedConns, "leaked: session %d of %s still open after Close", c.id, c.ident.name)
	}
	if inUse, queued := e.mgr.Permits(); e.closedAll && (inUse > 0 || queued > 0) {
		// Every pool drained: each permit granted came back, and no
		// request (or withdrawal of one) was left hanging.
		e.checks.violation(&v.LeakedConns, "leaked: %d permits still in use and %d requests queued under MaxTotal after Close", inUse, queued)
	}
	if e.inflight > 0 {
		e.checks.violation(&v.LostWaiters, "%d acquires never finished", e.inflight)
		v.LostWaiters += uint64(e.inflight) - 1
	}
	t := e.gone
	for _, p := range e.allPools {
		t.add(p.sm.Stats())
	}
	e.res.Hits, e.res.PhysicalOpens, e.res.TokenMints = t.hits, t.opens, t.mints
	e.res.Rotations, e.res.StaleDrained = t.rotations, t.staleDrained
	if t.closes != nil {
		e.res.Closes = t.closes
	}
	e.res.DurationS = time.Duration(e.stop).Seconds()
	if e.cfg.Duration <= 0 || e.stopAt < e.stop {
		e.res.DurationS = time.Duration(e.stopAt).Seconds()
	}
	e.res.AcquireLatencyUS = report.LatencyOf(e.hist)
	e.res.LatencyHist = e.hist
	e.res.Series = append(e.res.Series, report.Sample{
		T: time.Duration(e.now).Seconds(), Acquires: e.res.Acquires, TokenMints: e.mints,
		Violations: v.Total(), Open: len(e.openList), Pools: e.pools,
	})
}
