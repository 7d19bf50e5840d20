package actors

import "time"

// Where a pool decides to retire. A pool with nothing to do for RetireAfter
// (no acquire, no lease out, no waiter, no dial, no mint, no check) first
// closes its idle connections and waits for every close to finish, opening
// nothing meanwhile (no MinSize refill); then it asks the manager to retire
// it (EffRetire), saying how many acquires it has seen. So a pool retires
// empty: once the manager agrees, the identity's next acquire spawns a new
// pool, and sessions of the old one still closing at the server would not
// count against the new one's MaxSize (each retirement whose closes hung
// would leave up to MaxSize more sessions of the identity at the server).
// Every acquire re-arms the timer and clears an earlier request, so a
// request the manager refused is asked again RetireAfter after the pool
// goes quiet again (rescheduleWake in maintain.go). The manager's side of
// the agreement is manager/decide/retire.go.

// maybeRetire asks the manager to retire the pool once it has had nothing to
// do for RetireAfter (no acquire, no lease out, no waiter, no dial) and has
// closed its connections. closeDone calls it too, to ask as soon as the
// last close has finished, and so does a failed dial or mint: a MinSize
// fill that a Tick started just before it looked put retirement off by
// another RetireAfter, and with a Dialer that keeps failing (the next fill
// started by the next Tick) for as long as it failed.
func (p *Pool) maybeRetire(now time.Time) {
	if p.cfg.RetireAfter <= 0 || p.retireAsked || !p.quiet() {
		return
	}
	if now.Sub(p.lastActivity) < p.cfg.RetireAfter {
		return
	}
	p.retireDue = true
	for _, c := range p.idle { // quiet: every connection is idle
		p.closeConn(c, ReasonPoolClosed)
	}
	clear(p.idle)
	p.idle = p.idle[:0]
	if p.closesInFlight > 0 {
		return // their sessions still count at the server: ask once closed
	}
	p.retireAsked = true
	p.emit(Effect{Kind: EffRetire, Seen: p.seen})
}

func (p *Pool) quiet() bool {
	return p.busy == 0 && p.waiters.live == 0 && p.coming() == 0 && p.awaitingPermit == 0 && !p.withdrawalsInFlight() &&
		!p.minting && len(p.checking) == 0 && len(p.idle) == len(p.conns)
}
