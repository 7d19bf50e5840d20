package virtual

import (
	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/tokens"
)

// The injected bugs (see workload.Bugs). Each strikes at random, seeded,
// at a fraction of its opportunities, as real bugs do; none touches the
// state machine, only the harness's handling of its effects.

const (
	grantBugRate = 0.01 // per grant
	rareBugRate  = 0.2  // per dial at max size, per close
)

func (e *engine) strikes(name string, rate float64) bool {
	return e.bug == name && e.rBug.Float64() < rate
}

// bugDropsReply loses a grant: the caller never hears back.
func (e *engine) bugDropsReply(_ *vpool) bool { return e.strikes("drop-reply", grantBugRate) }

// bugReorders delivers the grant meant for h's caller to a later waiter of
// the same pool, and h's future answer to that waiter's caller. It strikes
// only when no check is in flight, where FIFO order is unambiguous.
func (e *engine) bugReorders(p *vpool, h *handle) {
	if e.bug != "reorder-grants" || p.checkBudget != 0 || !h.req.queued {
		return
	}
	later := e.laterWaiter(p, h.req)
	if later == nil || !e.strikes("reorder-grants", grantBugRate*10) {
		return
	}
	r := h.req
	r.h, later.h = later.h, r.h
	r.h.req, later.h.req = r, later
}

// laterWaiter finds a waiter of p that arrived after r and still waits.
func (e *engine) laterWaiter(p *vpool, r *request) *request {
	for i := len(p.queue) - 1; i > r.queueIdx; i-- {
		if q := p.queue[i]; q != nil && q.queued && !q.timedOut {
			return q
		}
	}
	return nil
}

// bugDoubleGrants also hands c to another waiter of the pool, then
// withdraws that waiter's acquire from the pool behind its back.
func (e *engine) bugDoubleGrants(p *vpool, r *request, c *bconn, id actors.ConnID) {
	if e.bug != "double-grant" || r.timedOut {
		return
	}
	var other *request
	for i := p.head; i < len(p.queue); i++ {
		if q := p.queue[i]; q != nil && q.queued && !q.timedOut {
			other = q
			break
		}
	}
	if other == nil || !e.strikes("double-grant", grantBugRate*10) {
		return
	}
	other.h.swallow = true
	e.grant(p, other, c, id)
	e.schedule(event{at: e.now, kind: evBugCancel, req: other})
}

// bugCrossIdentity swaps the session the worker uses for one of another
// identity.
func (e *engine) bugCrossIdentity(r *request) {
	if e.bug != "cross-identity" || len(e.openList) < 2 || !e.strikes("cross-identity", grantBugRate) {
		return
	}
	for range 8 {
		if s := e.openList[e.rBug.IntN(len(e.openList))]; s.ident != r.ident && s.open {
			r.use = s
			return
		}
	}
}

// bugIgnoresMax opens one more connection for a pool already at its max.
func (e *engine) bugIgnoresMax(p *vpool, tok tokens.Token) {
	if e.bug != "ignore-max" || p.open+p.dialing < e.cfg.Pool.MaxSize || !e.strikes("ignore-max", rareBugRate) {
		return
	}
	p.dialing++
	e.startDial(&dialOp{pool: p, tok: tok, extra: true})
}

// bugLeaksClose reports a close done without closing the session.
func (e *engine) bugLeaksClose() bool { return e.strikes("leak-close", rareBugRate) }

// bugStaleUse is a worker that keeps its lease after releasing it and calls
// on it again, as careless code does, with the lease guard skipped: the
// call reaches the session, whoever holds it now. The lease guard refuses
// such a call before it reaches the session; the harness models that by
// making the stale call only when the guard is the injected bug.
func (e *engine) bugStaleUse(r *request) {
	if e.bug != "skip-lease-guard" || r.conn == nil || r.use != r.conn || !e.strikes("skip-lease-guard", grantBugRate*10) {
		return
	}
	broken := r.broken
	e.use(r)
	r.broken = broken // the released lease's failure is not the worker's op's
}
