package actors

import "time"

// Where a pool decides to retire. A pool with nothing to do for RetireAfter
// (no acquire, no lease out, no waiter, no dial, no mint, no check) asks the
// manager to retire it (EffRetire), saying how many acquires it has seen.
// Every acquire re-arms the timer and clears an earlier request, so a
// request the manager refused is asked again RetireAfter after the pool
// goes quiet again (rescheduleWake in maintain.go). The manager's side of
// the agreement is manager/decide/retire.go.

// maybeRetire asks the manager to retire the pool once it has had nothing to
// do for RetireAfter: no acquire, no lease out, no waiter, no dial.
func (p *Pool) maybeRetire(now time.Time) {
	if p.cfg.RetireAfter <= 0 || p.retireAsked || !p.quiet() {
		return
	}
	if now.Sub(p.lastActivity) >= p.cfg.RetireAfter {
		p.retireAsked = true
		p.emit(Effect{Kind: EffRetire, Seen: p.seen})
	}
}

func (p *Pool) quiet() bool {
	return p.busy == 0 && p.waiters.live == 0 && p.coming() == 0 &&
		!p.minting && len(p.checking) == 0 && len(p.idle) == len(p.conns)
}
