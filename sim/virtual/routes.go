package virtual

import (
	"time"

	"github.com/idpool/idpool/manager/decide"
)

// vroute is the simulated manager/routes.go route: callers count
// themselves in sent, then read closed (two separate events, so that the
// manager's close-then-read can fall between them); the manager closes it,
// then reads sent.
type vroute struct {
	pool   *vpool
	sent   uint64
	closed bool
}

// send starts r on its way: over the identity's published route, or to the
// manager.
func (e *engine) send(r *request) {
	rt := r.ident.route
	if rt == nil {
		e.schedule(event{at: e.at(e.cfg.Latency.Mailbox), kind: evManagerAcquire, req: r})
		return
	}
	// The caller counts itself in sent now and reads closed a moment
	// later: the seed decides how much of the manager's work falls in
	// between.
	rt.sent++
	r.route = rt
	gap := time.Duration(e.rRoute.Int64N(int64(e.cfg.Latency.Mailbox) + 1))
	e.schedule(event{at: e.at(gap), kind: evRouteCheck, req: r})
}

// routeCheck is the caller reading closed: closed, it takes its count back
// and goes to the manager; open, it sends to the pool.
func (e *engine) routeCheck(r *request) {
	rt := r.route
	r.route = nil
	if rt.closed {
		rt.sent--
		e.schedule(event{at: e.at(e.cfg.Latency.Mailbox), kind: evManagerAcquire, req: r})
		return
	}
	e.res.DirectSends++
	if rt.pool.stopped {
		e.checks.violation(&e.res.Violations.RouteToStopped, "route to a stopped pool: acquire %d for %s sent over the open route of a pool already stopped", r.h.id, r.ident.name)
	}
	r.pool = rt.pool
	e.schedule(event{at: e.at(e.cfg.Latency.Mailbox), kind: evDeliverAcquire, req: r})
}

// publish carries out EffPublish: callers of the identity now send to p.
func (e *engine) publish(p *vpool) {
	p.ident.route = p.route
}

// withdraw carries out EffWithdraw: the route stays closed for callers that
// read it before, and leaves the table. The keep-route bug skips it.
func (e *engine) withdraw(p *vpool) {
	if e.bug == "keep-route" {
		return
	}
	p.route.closed = true
	if p.ident.route == p.route {
		p.ident.route = nil
	}
}

// lostInDelivery checks an acquire reaching p: p must have started, must not
// have stopped, and, unless the manager is closing, must not be retired (an
// acquire reaching a retired pool was on its way when the manager agreed,
// which the sent/seen check exists to prevent). A lost acquire is ended as
// the caller would see it: never.
func (e *engine) lostInDelivery(r *request) bool {
	p := r.pool
	v := &e.res.Violations
	switch {
	case !p.started:
		e.checks.violation(&v.RouteBeforeStart, "route before start: acquire %d for %s reached pool %d before its Start", r.h.id, r.ident.name, p.id)
	case p.stopped:
		e.checks.violation(&v.LostToRetirement, "acquire %d for %s reached pool %d after it stopped", r.h.id, r.ident.name, p.id)
	case p.retired:
		e.checks.violation(&v.LostToRetirement, "acquire %d for %s reached pool %d after its retirement was agreed", r.h.id, r.ident.name, p.id)
		return false // the pool still answers it (ErrClosed, or a grant before its Close)
	default:
		return false
	}
	e.lose(r)
	e.next(r)
	return true
}

// stopPool carries out EffStop: the pool is gone, and no route may lead to
// it any more.
func (e *engine) stopPool(p *vpool) {
	p.stopped = true
	delete(e.byID, p.id)
	if p.ident.route == p.route && !p.route.closed {
		e.checks.violation(&e.res.Violations.RouteToStopped, "route to a stopped pool: %s's route still leads to pool %d", p.ident.name, p.id)
	} else if p.ident.route == p.route {
		e.checks.violation(&e.res.Violations.RouteToStopped, "route to a stopped pool: %s's closed route to pool %d is still published", p.ident.name, p.id)
	}
}

// drainedToManager: a pool's EffDrained reaches the manager, with the
// count of acquires sent to it.
func (e *engine) drainedToManager(p *vpool) {
	e.mgrStep(decide.Drained{Pool: p.id, Seen: p.sm.Stats().Acquires, Sent: p.route.sent}, nil)
}
