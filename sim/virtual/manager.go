package virtual

import (
	"time"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/sim/workload"
	"github.com/idpool/idpool/tokens"
)

const server = "sim:1433/virtual"

func newIdentity(name string) *identity {
	return &identity{name: name, key: tokens.NewKey(server, "sim:"+name)}
}

// arrive is a caller's Acquire: the manager routes it to its identity's
// pool, spawning one if the key has none, and the caller arms its deadline.
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
	p := id.pool
	if p == nil {
		p = e.newPool(id)
	}
	p.forwarded++
	e.nextAcqID++
	r := &request{ident: id, pool: p, w: w, arrived: e.now, op: e.cfg.Mix.Pick(e.rOp), poolDeadline: e.rOp.IntN(2) == 0}
	r.h = &handle{id: e.nextAcqID, req: r}
	e.res.Acquires++
	e.inflight++
	// caller -> manager -> pool: two mailbox hops.
	hops := 2 * e.cfg.Latency.Mailbox
	e.schedule(event{at: e.at(hops), kind: evDeliverAcquire, req: r})
	if r.poolDeadline {
		// The pool fails the acquire at its deadline; its answer takes one
		// hop back. Anything later is lost.
		e.schedule(event{at: e.at(hops + e.cfg.AcquireTimeout + e.cfg.Latency.Mailbox + time.Microsecond), kind: evLostCheck, req: r})
	} else {
		e.schedule(event{at: e.at(e.cfg.AcquireTimeout), kind: evDeadline, req: r})
	}
	if e.cfg.Ops > 0 && int64(e.res.Acquires) >= e.cfg.Ops {
		e.halt()
	}
}

func (e *engine) newPool(id *identity) *vpool {
	ps := e.cfg.Pool
	cfg := actors.PoolConfig{
		Key:              id.key,
		MinSize:          ps.MinSize,
		MaxSize:          ps.MaxSize,
		MaxWaiters:       ps.MaxWaiters,
		IdleTimeout:      ps.IdleTimeout,
		MaxLifetime:      ps.MaxLifetime,
		LifetimeJitter:   ps.MaxLifetime / 10,
		HealthCheckAfter: ps.HealthCheckAfter,
		UsesToken:        true,
		TokenThreshold:   ps.TokenThreshold,
		RetireAfter:      ps.PoolIdleTimeout,
		DialBackoff:      ps.DialBackoff,
		DialBackoffMax:   ps.DialBackoffMax,
		NeedsPermit:      ps.MaxTotal > 0,
		Seed:             e.cfg.Seed + e.res.PoolsCreated,
	}
	p := &vpool{sm: actors.New(cfg), ident: id, idx: e.res.PoolsCreated}
	id.pool = p
	e.res.PoolsCreated++
	e.pools++
	e.allPools = append(e.allPools, p)
	e.step(p, actors.Start{})
	return p
}

func (e *engine) deliverAcquire(r *request) {
	p := r.pool
	r.queued = true
	r.queueIdx = len(p.queue)
	p.queue = append(p.queue, r)
	e.waiting++
	var timeout time.Duration
	if r.poolDeadline {
		timeout = e.cfg.AcquireTimeout
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
	p := r.pool
	e.step(p, actors.Cancel{ID: r.h.id, Timeout: true})
	if !r.answered {
		// Neither granted, failed nor cancelled: the caller would wait
		// forever.
		e.checks.violation(&e.res.Violations.LostWaiters, "lost waiter: acquire %d for %s got no answer after its Cancel", r.h.id, r.ident.name)
		e.answered(r)
		e.res.ErrorsByKind["lost"]++
		e.res.Errors++
		e.finishRequest(r)
	}
}

// retireRequest is the manager's side of the handshake: agree only if the
// pool has seen every acquire forwarded to it.
func (e *engine) retireRequest(p *vpool, seen uint64) {
	if e.closedAll || p.ident.pool != p {
		return
	}
	if p.forwarded != seen {
		e.res.RetiresRefused++
		return
	}
	p.ident.pool = nil
	e.res.PoolsRetired++
	e.schedule(event{at: e.at(e.cfg.Latency.Mailbox), kind: evRetireApproved, pool: p})
}
