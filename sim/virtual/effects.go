package virtual

import (
	"errors"

	"github.com/idpool/idpool/actors"
)

// step feeds in to p's state machine, carries out the effects it decides
// on, and checks every invariant: the driver loop of actors' package doc.
func (e *engine) step(p *vpool, in actors.Input) { e.stepAfter(p, nil, in) }

// stepAfter is step with pre run first: the harness's own bookkeeping of the
// event (a dial landed, a check ended), after the FIFO check budget of the
// step is taken.
func (e *engine) stepAfter(p *vpool, pre func(), in actors.Input) {
	if p.crashed {
		return
	}
	defer e.recoverStep(p)
	p.checkBudget = p.validating
	if p.minting {
		p.checkBudget += p.open - p.busy
	}
	if pre != nil {
		pre()
	}
	if e.stepHit(p, in) {
		e.checks.afterStep(p)
		return
	}
	p.sm.Step(e.timeNow(), in)
	// Nothing below steps p.sm again (every reply to the pool is an
	// event), and Step would panic if it did: the list is ours until
	// Advance.
	defer p.sm.Advance()
	effs := p.sm.Ready()
	for i := range effs {
		e.effect(p, &effs[i])
	}
	e.checks.afterStep(p)
}

// stepHit offers an Acquire to StepHit and a Release to StepHitRelease
// first, as the pool actor does, so that the simulation checks its
// invariants along the path production takes; it reports whether the step
// was taken there. A hit's grant is carried out as the EffGrant Step would
// have handed out for it.
func (e *engine) stepHit(p *vpool, in actors.Input) bool {
	switch in := in.(type) {
	case actors.Acquire:
		g, ok := p.sm.StepHit(e.timeNow(), in)
		if ok {
			e.effect(p, &actors.Effect{Kind: actors.EffGrant, ReplyTo: in.ReplyTo, AcquireID: in.ID, Conn: g.Conn, Resource: g.Resource})
		}
		return ok
	case actors.Release:
		return p.sm.StepHitRelease(e.timeNow(), in)
	}
	return false
}

// answerTo finds the handle of the acquire an answer is for, and forgets it:
// each acquire takes exactly one answer from its pool.
func (e *engine) answerTo(ef *actors.Effect) *handle {
	h := e.handles[ef.AcquireID]
	if h == nil {
		e.checks.violation(&e.res.Violations.LostWaiters, "acquire %d answered twice by its pool", ef.AcquireID)
		return nil
	}
	delete(e.handles, ef.AcquireID)
	return h
}

// recoverStep turns a panic in a state machine into a violation and
// abandons the pool, as an actor that crashed would be: its waiters and
// connections are then reported lost and leaked.
func (e *engine) recoverStep(p *vpool) {
	r := recover()
	if r == nil {
		return
	}
	e.checks.violation(&e.res.Violations.StateMachine, "state machine of %s panicked: %v", p.ident.name, r)
	p.crashed = true
}

func (e *engine) effect(p *vpool, ef *actors.Effect) {
	switch ef.Kind {
	case actors.EffGrant:
		e.grantEffect(p, ef)
	case actors.EffFail:
		h := e.answerTo(ef)
		if h == nil || h.swallow {
			return
		}
		e.failed(h.req, ef.Err)
	case actors.EffCancelled:
		h := e.answerTo(ef)
		if h == nil || h.swallow {
			return
		}
		r := h.req
		if e.checkAnswer(r) {
			e.answered(r)
			e.res.Timeouts++
			e.next(r)
			e.finishRequest(r)
		}
	case actors.EffDial:
		e.dial(p, ef.Token)
	case actors.EffMint:
		e.startMint(p)
	case actors.EffValidate:
		p.validating++
		e.schedule(event{at: e.at(e.cfg.Latency.Validate.Sample(e.rServer)), kind: evValidateDone, pool: p, conn: ef.Resource.(*bconn), n: uint64(ef.Conn)})
	case actors.EffClose:
		e.closeEffect(p, ef)
	case actors.EffWake:
		p.wakeGen++
		e.schedule(event{at: int64(ef.At.Sub(epoch)), kind: evTick, pool: p, n: p.wakeGen})
	case actors.EffRequestPermit:
		var fill uint64
		if ef.Fill {
			fill = 1
		}
		e.schedule(event{at: e.at(e.cfg.Latency.Mailbox), kind: evPermitRequest, pool: p, n: fill})
	case actors.EffReturnPermit:
		e.schedule(event{at: e.at(e.cfg.Latency.Mailbox), kind: evPermitReturn, pool: p})
	case actors.EffStealRefused:
		e.schedule(event{at: e.at(e.cfg.Latency.Mailbox), kind: evStealRefused, pool: p})
	case actors.EffWithdrawPermit:
		e.schedule(event{at: e.at(e.cfg.Latency.Mailbox), kind: evWithdrawPermit, pool: p})
	case actors.EffRetire:
		e.schedule(event{at: e.at(e.cfg.Latency.Mailbox), kind: evRetireRequest, pool: p, n: ef.Seen})
	case actors.EffDrained:
		e.drained(p)
	}
}

// checkAnswer reports whether r may take an answer; a second answer to one
// acquire breaks the protocol (exactly one terminal reply).
func (e *engine) checkAnswer(r *request) bool {
	if r.answered {
		e.checks.violation(&e.res.Violations.LostWaiters, "acquire %d for %s answered twice", r.h.id, r.ident.name)
		return false
	}
	return true
}

func (e *engine) grantEffect(p *vpool, ef *actors.Effect) {
	h := e.answerTo(ef)
	if h == nil {
		return
	}
	c := ef.Resource.(*bconn)
	if e.bugDropsReply(p) {
		p.busy++ // the pool believes someone holds it
		e.dequeue(h.req)
		return
	}
	e.bugReorders(p, h)
	r := h.req
	if !e.checkAnswer(r) {
		return
	}
	e.grant(p, r, c, ef.Conn)
	e.bugDoubleGrants(p, r, c, ef.Conn)
}

// grant gives c to r's caller.
func (e *engine) grant(p *vpool, r *request, c *bconn, id actors.ConnID) {
	e.checks.onGrant(p, r, c)
	e.answered(r)
	r.conn, r.connID, r.use = c, id, c
	p.busy++
	if r.timedOut {
		// The grant crossed the caller's Cancel: the caller hands the
		// connection back unused and reports a timeout.
		e.res.Timeouts++
		e.endOp(r)
		return
	}
	c.holder = r
	e.res.Granted++
	_ = e.hist.RecordValue(max((e.now-r.arrived)/1000, 0))
	e.bugCrossIdentity(r)
	e.startOp(r)
}

func (e *engine) failed(r *request, err error) {
	if !e.checkAnswer(r) {
		return
	}
	e.answered(r)
	if errors.Is(err, actors.ErrAcquireTimeout) {
		e.res.Timeouts++
		e.next(r)
		e.finishRequest(r)
		return
	}
	kind := errorKind(err)
	e.res.ErrorsByKind[kind]++
	e.res.Errors++
	e.next(r)
	e.finishRequest(r)
}

func (e *engine) closeEffect(p *vpool, ef *actors.Effect) {
	c := ef.Resource.(*bconn)
	if c.holder != nil {
		e.checks.violation(&e.res.Violations.ClosedWhileLeased, "session %d of %s closed (%s) while leased", c.id, c.ident.name, ef.Reason)
	}
	if !c.released {
		c.released = true
		p.open--
		p.closingN++
		e.totalOpen--
	}
	e.restLoss(p, ef.Reason)
	if e.bugLeaksClose() {
		c.leaked = true
	}
	e.schedule(event{at: e.at(e.cfg.Latency.Close.Sample(e.rServer)), kind: evCloseDone, pool: p, conn: c, n: uint64(ef.Conn)})
}

func (e *engine) closeDone(p *vpool, c *bconn, id actors.ConnID) {
	p.closingN--
	if !c.leaked {
		e.closeSession(c)
	}
	e.step(p, actors.CloseDone{Conn: id})
}

// drained: a closing pool closed everything; its counters join the totals.
func (e *engine) drained(p *vpool) {
	if p.drained {
		return
	}
	p.drained = true
	e.pools--
	e.schedule(event{at: e.at(e.cfg.Latency.Mailbox), kind: evPoolDrained, pool: p})
	e.gone.add(p.sm.Stats())
	for i, q := range e.allPools {
		if q == p {
			last := len(e.allPools) - 1
			copy(e.allPools[i:], e.allPools[i+1:])
			e.allPools[last] = nil
			e.allPools = e.allPools[:last]
			break
		}
	}
}

// errorKind names an acquire error for the report.
func errorKind(err error) string {
	var de *actors.DialError
	switch {
	case errors.Is(err, actors.ErrClosed):
		return "closed"
	case errors.Is(err, actors.ErrPoolExhausted):
		return "exhausted"
	case errors.As(err, &de):
		for _, k := range serverErrors {
			if errors.Is(err, k.err) {
				return k.kind
			}
		}
		if de.Mint {
			return "token_other"
		}
		return "dial_other"
	}
	return "other"
}
