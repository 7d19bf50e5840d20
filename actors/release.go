package actors

import "time"

// Release takes back a granted connection. broken means its wire state is
// unknown or its reset failed: it is closed and its slot freed. A clean
// connection is reused unless it is past its lifetime or its token expired.
// Releasing an id that is not out is ignored and counted as misuse.
func (p *Pool) Release(now time.Time, id ConnID, broken bool) []Effect {
	p.out = p.out[:0]
	c := p.conns[id]
	if c == nil || c.state != connBusy {
		p.stats.badReleases++
		return p.out
	}
	p.busy--
	p.lastActivity = now
	reason, dead := p.deadAt(c, now)
	switch {
	case p.closing:
		p.closeConn(c, ReasonPoolClosed)
	case broken:
		p.closeConn(c, ReasonBroken)
	case dead:
		p.closeConn(c, reason)
	default:
		c.idleSince = now
		p.pushIdle(c)
		p.wakeNoLaterThan(p.connWake(c))
	}
	p.serve(now)
	p.maybeDrained()
	return p.out
}

// deadAt says whether c must not be handed out again at now, and why.
func (p *Pool) deadAt(c *conn, now time.Time) (CloseReason, bool) {
	if !c.deadline.IsZero() && !now.Before(c.deadline) {
		return ReasonLifetime, true
	}
	if p.cfg.UsesToken && !c.token.ExpiresOn.IsZero() && !now.Before(c.token.ExpiresOn) {
		return ReasonTokenExpired, true
	}
	return 0, false
}

// closeConn forgets c (freeing its slot at once) and asks for it to be closed.
func (p *Pool) closeConn(c *conn, reason CloseReason) {
	delete(p.conns, c.id)
	p.closesInFlight++
	p.stats.closes[reason]++
	switch reason {
	case ReasonTokenExpired, ReasonTokenExpiring:
		p.stats.expiredClosed++
	case ReasonStaleToken:
		p.stats.staleDrained++
	}
	p.emit(Effect{Kind: EffClose, Conn: c.id, Resource: c.resource, Reason: reason})
}

// CloseDone records that a close asked for earlier has finished.
func (p *Pool) CloseDone(now time.Time, id ConnID) []Effect {
	p.out = p.out[:0]
	p.closesInFlight--
	p.maybeDrained()
	return p.out
}
