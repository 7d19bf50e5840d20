package actors

import "time"

// permitGranted answers an EffRequestPermit: the reservation may dial, if it
// is still wanted; otherwise the permit goes straight back.
func (p *Pool) permitGranted(now time.Time) {
	p.awaitingPermit--
	wanted := p.waiters.unserved() > p.coming() || p.size() < p.cfg.MinSize
	if p.closing || !wanted {
		p.returnPermits(1)
		p.dropSpareTokens()
		p.maybeDrained()
		return
	}
	p.startPermittedDial(now)
}

// fillRetryAfter is how long a pool whose MinSize fill was refused at the
// global cap waits before asking again. MinSize yields to MaxTotal: a refused
// fill takes no connection from another pool (which would refill in turn,
// for ever), it only asks again now and then, and opens only if there is
// room.
const fillRetryAfter = 10 * time.Second

// permitRefused answers a fill request (EffRequestPermit with Fill) made at
// the global cap: the reservation is dropped and no fill is asked for again
// until fillRetryAfter has passed. Waiters it was covering get a dial of
// their own.
func (p *Pool) permitRefused(now time.Time) {
	p.awaitingPermit--
	p.fillHeld = true
	p.wakeNoLaterThan(now.Add(fillRetryAfter))
	p.serve(now)
	p.maybeDrained()
}

// permitDenied answers an EffRequestPermit that the manager will never grant
// (it is closing): the reservation is dropped.
func (p *Pool) permitDenied(now time.Time) {
	p.awaitingPermit--
	p.failUncovered(1, ErrClosed)
	p.maybeDrained()
}

// stealIdle asks the pool to give up a connection for another pool under the
// global cap: its oldest idle one now, or else the next one released. A pool
// with nothing to give (no connection it has not already promised) refuses
// with EffStealRefused, so the manager can ask another. Which pool is asked
// is decided in manager/decide/steal.go.
func (p *Pool) stealIdle(now time.Time) {
	if len(p.idle) == 0 {
		if p.owed >= len(p.conns)+p.dialing+p.awaitingToken {
			p.emit(Effect{Kind: EffStealRefused})
			return
		}
		p.owed++
		return
	}
	p.owed++
	oldest := p.idle[0]
	rest := copy(p.idle, p.idle[1:])
	p.idle[rest] = nil
	p.idle = p.idle[:rest]
	p.closeConn(oldest, ReasonStolen)
	p.maybeDrained()
}
