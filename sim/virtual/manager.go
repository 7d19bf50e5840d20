package virtual

import (
	"time"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/manager/decide"
	"github.com/idpool/idpool/sim/workload"
	"github.com/idpool/idpool/tokens"
)

const server = "sim:1433/virtual"

func newIdentity(name string) *identity {
	return &identity{name: name, key: tokens.NewKey(server, "sim:"+name)}
}

// newManager is the manager's state machine with the run's settings: the
// same decision code the manager actor runs (package decide).
func newManager(cfg workload.Config) *decide.Manager {
	ps := cfg.Pool
	return decide.New(decide.Config{
		Server:   server,
		MaxTotal: ps.MaxTotal,
		Seed:     cfg.Seed,
		Pool: actors.PoolConfig{
			MinSize:          ps.MinSize,
			MaxSize:          ps.MaxSize,
			MaxWaiters:       ps.MaxWaiters,
			IdleTimeout:      ps.IdleTimeout,
			MaxLifetime:      ps.MaxLifetime,
			LifetimeJitter:   ps.MaxLifetime / 10,
			HealthCheckAfter: ps.HealthCheckAfter,
			TokenThreshold:   ps.TokenThreshold,
			RetireAfter:      ps.PoolIdleTimeout,
			DialBackoff:      ps.DialBackoff,
			DialBackoffMax:   ps.DialBackoffMax,
		},
	})
}

// arrive is a caller's Acquire: straight to its identity's pool when the
// manager has published a route, otherwise through the manager, which
// spawns a pool if the identity has none (see routes.go).
func (e *engine) arrive(w *worker) {
	if e.stopping {
		return
	}
	if e.cfg.Arrival == "poisson" {
		e.schedule(event{at: e.poissonGap(), kind: evArrive})
	}
	var id *identity
	if i := e.picker.Pick(); i >= 0 {
		id = e.idents[i]
	} else {
		id = newIdentity(workload.OneShotName(e.oneShots))
		e.oneShots++
	}
	if !id.used {
		id.used = true
		e.res.IdentitiesUsed++
	}
	e.nextAcqID++
	r := &request{ident: id, w: w, arrived: e.now, op: e.cfg.Mix.Pick(e.rOp), poolDeadline: e.rOp.IntN(2) == 0}
	r.h = &handle{id: e.nextAcqID, req: r}
	e.res.Acquires++
	e.inflight++
	if !r.poolDeadline {
		e.schedule(event{at: e.at(e.cfg.AcquireTimeout), kind: evDeadline, req: r})
	}
	e.send(r)
	if e.cfg.Ops > 0 && int64(e.res.Acquires) >= e.cfg.Ops {
		e.halt()
	}
}

// managerAcquire: the acquire reaches the manager actor.
func (e *engine) managerAcquire(r *request) {
	e.mgrStep(decide.Acquire{Disc: r.ident.name, UsesToken: true}, r)
}

// mgrStep is the manager actor's driver loop (package decide's doc): one
// input, its effects carried out, then the follow-up input they produced.
// r is the acquire being stepped, if any.
func (e *engine) mgrStep(in decide.Input, r *request) {
	now := e.timeNow()
	e.mgr.Step(now, in)
	for {
		var next decide.Input
		for _, ef := range e.mgr.Ready() {
			if f := e.mgrEffect(&ef, r); f != nil {
				next = f
			}
		}
		e.mgr.Advance()
		if next == nil {
			return
		}
		e.mgr.Step(now, next)
	}
}

func (e *engine) mgrEffect(ef *decide.Effect, r *request) decide.Input {
	p := e.byID[ef.Pool]
	switch ef.Kind {
	case decide.EffFailClosed:
		e.failed(r, actors.ErrClosed)
	case decide.EffSpawn:
		e.spawn(r.ident, ef)
	case decide.EffPublish:
		e.publish(p)
	case decide.EffForward:
		p.route.sent++
		r.pool = p
		e.schedule(event{at: e.at(e.cfg.Latency.Mailbox), kind: evDeliverAcquire, req: r})
	case decide.EffCloseRoute:
		p.route.closed = true
		sent := p.route.sent
		if e.bug == "skip-sent-check" {
			sent = p.retireSeen // believes the pool, not the count of sends
		}
		return decide.RouteClosed{Pool: ef.Pool, Sent: sent}
	case decide.EffReopenRoute:
		p.route.closed = false
		e.res.RetiresRefused++
	case decide.EffWithdraw:
		e.withdraw(p)
	case decide.EffClosePool:
		if ef.Retire {
			p.retired = true
			e.res.PoolsRetired++
			e.schedule(event{at: e.at(e.cfg.Latency.Mailbox), kind: evRetireApproved, pool: p})
			return nil
		}
		p.closing = true
		e.step(p, actors.Close{})
	case decide.EffStop:
		e.stopPool(p)
	case decide.EffGrantPermit:
		e.schedule(event{at: e.at(e.cfg.Latency.Mailbox), kind: evPermitGrant, pool: p})
	case decide.EffRefuseFill:
		e.schedule(event{at: e.at(e.cfg.Latency.Mailbox), kind: evFillRefused, pool: p})
	case decide.EffDenyPermit:
		e.schedule(event{at: e.at(e.cfg.Latency.Mailbox), kind: evPermitDenied, pool: p})
	case decide.EffSteal:
		e.schedule(event{at: e.at(e.cfg.Latency.Mailbox), kind: evStealIdle, pool: p})
	case decide.EffPermitWithdrawn:
		if p == nil {
			return nil // stopped: unreachable, its withdrawal came before its Drained
		}
		var removed uint64
		if ef.Removed {
			removed = 1
		}
		e.schedule(event{at: e.at(e.cfg.Latency.Mailbox), kind: evPermitWithdrawn, pool: p, n: removed})
	case decide.EffCancelSteal:
		if p == nil {
			return nil // stopped: unreachable, Drained settles its steals
		}
		e.schedule(event{at: e.at(e.cfg.Latency.Mailbox), kind: evStealCancelled, pool: p})
	}
	return nil
}

// spawn creates the pool decide named and starts it at once, before its
// route is published (EffPublish follows): a pool actor gets its Init before
// anything else. The early-route bug starts it only a few hops later.
func (e *engine) spawn(id *identity, ef *decide.Effect) {
	p := &vpool{sm: actors.New(ef.Config), ident: id, id: ef.Pool, idx: e.res.PoolsCreated}
	p.route = &vroute{pool: p}
	e.byID[ef.Pool] = p
	e.res.PoolsCreated++
	e.pools++
	e.allPools = append(e.allPools, p)
	if e.bug == "early-route" {
		e.schedule(event{at: e.at(3 * e.cfg.Latency.Mailbox), kind: evStart, pool: p})
		return
	}
	e.startPool(p)
}

func (e *engine) startPool(p *vpool) {
	p.started = true
	e.step(p, actors.Start{})
}

// deliverAcquire: the acquire reaches its pool's mailbox, from the manager
// or straight from the caller over the route.
func (e *engine) deliverAcquire(r *request) {
	p := r.pool
	r.delivered = true
	if e.lostInDelivery(r) {
		return
	}
	r.queued = true
	r.queueIdx = len(p.queue)
	p.queue = append(p.queue, r)
	e.waiting++
	var timeout time.Duration
	if r.poolDeadline {
		timeout = e.cfg.AcquireTimeout
		// The pool fails the acquire at its deadline; its answer takes
		// one hop back. Anything later is lost.
		e.schedule(event{at: e.at(e.cfg.AcquireTimeout + e.cfg.Latency.Mailbox + time.Microsecond), kind: evLostCheck, req: r})
	}
	e.handles[r.h.id] = r.h
	e.step(p, actors.Acquire{ID: r.h.id, Timeout: timeout})
}

// deadline: the caller's ctx ended while it waited, so it sends Cancel and
// waits for exactly one more answer.
func (e *engine) deadline(r *request) {
	if r.answered {
		return
	}
	r.timedOut = true
	e.schedule(event{at: e.at(2 * e.cfg.Latency.Mailbox), kind: evDeliverCancel, req: r})
}

func (e *engine) deliverCancel(r *request) {
	if r.answered {
		return
	}
	p := r.pool
	if !r.delivered {
		// Still on its way (through the manager): the Cancel follows it.
		e.schedule(event{at: e.at(e.cfg.Latency.Mailbox), kind: evDeliverCancel, req: r})
		return
	}
	e.step(p, actors.Cancel{ID: r.h.id, Timeout: true})
	if !r.answered {
		// Neither granted, failed nor cancelled: the caller would wait
		// forever.
		e.checks.violation(&e.res.Violations.LostWaiters, "lost waiter: acquire %d for %s got no answer after its Cancel", r.h.id, r.ident.name)
		e.lose(r)
	}
}

// lose ends r as the caller would never see it end: counted as lost.
func (e *engine) lose(r *request) {
	e.answered(r)
	e.res.ErrorsByKind["lost"]++
	e.res.Errors++
	e.finishRequest(r)
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

// retireRequest: a pool's EffRetire reaches the manager.
func (e *engine) retireRequest(p *vpool, seen uint64) {
	p.retireSeen = seen
	e.mgrStep(decide.RetireRequest{Pool: p.id, Seen: seen}, nil)
}

// permitRequest: a pool's EffRequestPermit reaches the manager. The
// steal-for-fill bug passes a fill off as demand.
func (e *engine) permitRequest(p *vpool, fill bool) {
	if e.bug == "steal-for-fill" {
		fill = false
	}
	e.mgrStep(decide.PermitRequest{Pool: p.id, Fill: fill}, nil)
}

func (e *engine) permitReturn(p *vpool) { e.mgrStep(decide.PermitReturn{Pool: p.id}, nil) }

func (e *engine) stealRefused(p *vpool) { e.mgrStep(decide.StealRefused{Pool: p.id}, nil) }

func (e *engine) stealIdle(p *vpool) {
	if p.drained || p.crashed {
		e.stealRefused(p)
		return
	}
	e.step(p, actors.StealIdle{})
}

func (e *engine) permitGrant(p *vpool) {
	if p.drained || p.crashed {
		e.permitReturn(p)
		return
	}
	e.step(p, actors.PermitGranted{})
}
