package virtual

import (
	"time"

	"github.com/idpool/idpool/actors"
)

// The churn invariant: at rest, a pool opens nothing but what refills
// MinSize after real losses. Once the workload has ended and every acquire
// has finished, the run rests for restPeriod of virtual time with no
// traffic before it closes; every connection a pool opens in that time must
// be paid for by its MinSize deficit when the rest began or by a connection
// it lost for a real reason (lifetime, token expiry, failed check, broken).
// Connections taken by another pool under MaxTotal are not real losses: a
// pool that refills after each of them, taking one back in turn, is the
// connection storm this invariant exists to catch.

// restPeriod is how long the run rests before Close.
const restPeriod = 20 * time.Second

// restBook is one pool's account over the rest period.
type restBook struct {
	tracked bool
	deficit int // MinSize minus connections open at the start
	// inflight counts dials started, or reserved, before the rest began:
	// they may open during it.
	inflight int
	opened   int
	lost     int
}

// beginRest starts the rest period: it notes every pool's deficit and
// schedules its end.
func (e *engine) beginRest() {
	e.resting = true
	for _, p := range e.allPools {
		s := p.sm.Stats()
		p.rest = restBook{tracked: true, deficit: max(0, e.cfg.Pool.MinSize-p.open),
			inflight: p.dialing + s.AwaitingPermit + max(0, s.Dialing-p.dialing)}
	}
	e.schedule(event{at: e.now + int64(restPeriod), kind: evRestEnd})
}

func (e *engine) restOpen(p *vpool) {
	if e.resting && !e.closedAll && p.rest.tracked {
		p.rest.opened++
		e.checkChurn(p)
	}
}

func (e *engine) restLoss(p *vpool, reason actors.CloseReason) {
	if !e.resting || e.closedAll || !p.rest.tracked {
		return
	}
	switch reason {
	case actors.ReasonStolen, actors.ReasonPoolClosed, actors.ReasonIdleTimeout:
		// Given away, or closed for good: nothing to refill.
	default:
		p.rest.lost++
	}
}

// checkChurn reports a pool the first time its opens at rest exceed what
// its deficit and losses pay for, and then at every further open, so the
// count says how bad it is and the sample says who and why.
func (e *engine) checkChurn(p *vpool) {
	allowed := p.rest.deficit + p.rest.inflight + p.rest.lost
	if p.rest.opened <= allowed {
		return
	}
	e.checks.violation(&e.res.Violations.Churn,
		"churn: pool of %s opened %d connections at rest with no demand (t=%.3fs after the workload stopped; allowed %d: MinSize deficit %d + %d in flight + %d lost for real reasons)",
		p.ident.name, p.rest.opened, time.Duration(e.now-e.stopAt).Seconds(), allowed, p.rest.deficit, p.rest.inflight, p.rest.lost)
}

// endRest closes every pool, as Manager.Close does.
func (e *engine) endRest() {
	e.closeAll()
	e.hardEnd = e.now + int64(time.Minute+e.cfg.Pool.DialTimeout+e.cfg.Pool.MintTimeout)
}
