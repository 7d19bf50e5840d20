package virtual

import "github.com/idpool/idpool/actors"

// permitBook is the manager's account of the global cap (MaxTotal), played
// the way manager/permits.go plays it: permits granted first come, first
// served; at the cap the pool holding the most permits (other than the one
// waiting and those that just refused) is asked to give one up.
type permitBook struct {
	inUse int
	queue []*vpool
	tried []*vpool
}

func (e *engine) permitRequest(p *vpool, fill bool) {
	b := &e.book
	if e.closedAll {
		e.schedule(event{at: e.at(e.cfg.Latency.Mailbox), kind: evPermitDenied, pool: p})
		return
	}
	if b.inUse < e.cfg.Pool.MaxTotal && len(b.queue) == 0 {
		e.grantPermit(p)
		return
	}
	// A MinSize fill yields to the cap: refused, never queued or paid for
	// by another pool (unless the steal-for-fill bug is on).
	if fill && e.bug != "steal-for-fill" {
		e.schedule(event{at: e.at(e.cfg.Latency.Mailbox), kind: evFillRefused, pool: p})
		return
	}
	b.queue = append(b.queue, p)
	e.steal(p)
}

func (e *engine) grantPermit(p *vpool) {
	b := &e.book
	b.inUse++
	p.permits++
	for _, q := range b.tried {
		q.stealTried = false
	}
	b.tried = b.tried[:0]
	e.schedule(event{at: e.at(e.cfg.Latency.Mailbox), kind: evPermitGrant, pool: p})
}

func (e *engine) permitReturn(p *vpool) {
	b := &e.book
	b.inUse--
	p.permits--
	granted := false
	for b.inUse < e.cfg.Pool.MaxTotal && len(b.queue) > 0 {
		next := b.queue[0]
		b.queue[0] = nil
		b.queue = b.queue[1:]
		e.grantPermit(next)
		granted = true
	}
	if granted && len(b.queue) > 0 {
		e.steal(b.queue[0])
	}
}

// steal asks the richest other pool for a connection.
func (e *engine) steal(waiting *vpool) {
	var victim *vpool
	for _, q := range e.allPools {
		if q != waiting && !q.stealTried && q.permits > 0 && (victim == nil || q.permits > victim.permits || q.permits == victim.permits && q.idx < victim.idx) {
			victim = q
		}
	}
	if victim != nil {
		e.schedule(event{at: e.at(e.cfg.Latency.Mailbox), kind: evStealIdle, pool: victim})
	}
}

func (e *engine) stealIdle(p *vpool) {
	if p.drained || p.crashed {
		e.stealRefused(p)
		return
	}
	e.step(p, actors.StealIdle{})
}

func (e *engine) stealRefused(p *vpool) {
	b := &e.book
	if !p.stealTried {
		p.stealTried = true
		b.tried = append(b.tried, p)
	}
	if len(b.queue) > 0 {
		e.steal(b.queue[0])
	}
}

func (e *engine) permitGrant(p *vpool) {
	if p.drained || p.crashed {
		e.permitReturn(p)
		return
	}
	e.step(p, actors.PermitGranted{})
}

// denyPermits answers every queued request for good: the manager closes.
func (e *engine) denyPermits() {
	for _, p := range e.book.queue {
		e.schedule(event{at: e.at(e.cfg.Latency.Mailbox), kind: evPermitDenied, pool: p})
	}
	e.book.queue = nil
}

// lostCheck: a pool-enforced deadline passed a moment ago, so the pool
// must have answered.
func (e *engine) lostCheck(r *request) {
	if r.answered {
		return
	}
	e.checks.violation(&e.res.Violations.LostWaiters, "lost waiter: acquire %d for %s unanswered past its deadline", r.h.id, r.ident.name)
	e.answered(r)
	e.res.ErrorsByKind["lost"]++
	e.res.Errors++
	e.next(r)
	e.finishRequest(r)
}
