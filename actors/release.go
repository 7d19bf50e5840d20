package actors

import "time"

// release takes back a granted connection. broken means its wire state is
// unknown or its reset failed: it is closed and its slot freed. A clean
// connection is reused unless it is past its lifetime or its token expired.
// Releasing an id that is not out is ignored and counted as misuse.
func (p *Pool) release(now time.Time, id ConnID, broken bool) {
	c := p.connOf(id)
	if c == nil || c.state != connBusy {
		p.stats.badReleases++
		return
	}
	p.unlend(now, c)
	reason, dead := p.deadAt(c, now)
	switch {
	case p.closing:
		p.closeConn(c, ReasonPoolClosed)
	case broken:
		p.closeConn(c, ReasonBroken)
		p.suspectIdle()
	case dead:
		p.closeConn(c, reason)
	default:
		c.idleSince = now
		p.parkIdle(c)
	}
	p.serve(now)
	p.maybeDrained()
}

// suspectIdle marks every idle connection for a health check before its
// next grant. One connection coming back broken is often the first sign that
// the server restarted or failed over and every session of the pool is dead:
// handed out unchecked, each would fail one more call, and database/sql gives
// a call only three tries before it fails it (the first call of an identity
// after a restart would fail with as few as three dead idle connections).
// With health checks off (HealthCheckAfter < 0) nothing is checked.
func (p *Pool) suspectIdle() {
	for _, c := range p.idle {
		c.suspect = true
	}
}

// deadAt says whether c must not be handed out again at now, and why.
func (p *Pool) deadAt(c *conn, now time.Time) (CloseReason, bool) {
	if c.evicted {
		return ReasonEvicted, true
	}
	if !c.deadline.IsZero() && !now.Before(c.deadline) {
		return ReasonLifetime, true
	}
	if p.cfg.UsesToken && !c.token.ExpiresOn.IsZero() && !now.Before(c.token.ExpiresOn) {
		return ReasonTokenExpired, true
	}
	return 0, false
}

// parkIdle makes c idle, unless the pool owes the manager a connection for
// the global cap: then c pays that debt.
func (p *Pool) parkIdle(c *conn) {
	if p.owed > 0 {
		p.closeConn(c, ReasonStolen)
		return
	}
	p.pushIdle(c)
	// Most parks find a wake already due before c needs one (the pool's
	// retirement wake, another idle connection's): testing that with
	// Before and Sub spares the hit path connWake's time.Time additions.
	if p.wakeAt.IsZero() || p.needsWakeBefore(c, p.wakeAt) {
		p.wakeNoLaterThan(p.connWake(c))
	}
}

// returnPermits hands n permits back under a global cap.
func (p *Pool) returnPermits(n int) {
	if !p.cfg.NeedsPermit {
		return
	}
	for range n {
		p.emit(Effect{Kind: EffReturnPermit})
	}
}

// returnUnusedPermits hands back n permits that no connection used: a dial
// that failed, reservations whose mint failed or whose pool closed, a grant
// no longer wanted. Each frees room as a close does, and the manager counts
// any permit a pool returns as paying a steal it asked of that pool
// (manager/decide/steal.go), so each pays a debt here too. Kept, the debt
// would close a later connection for nobody: a pool asked while its only
// spare was a dial, whose dial then failed, closed the next connection it
// opened or had released.
func (p *Pool) returnUnusedPermits(n int) {
	p.returnPermits(n)
	if p.cfg.NeedsPermit {
		p.owed = max(p.owed-n, 0)
	}
}

// closeConn forgets c and asks for it to be closed. Its slot stays taken
// (closesInFlight) until the close has finished, and under a global cap its
// permit goes back only then, so the server never sees more sessions than
// MaxSize or the cap.
//
// Any close pays one connection owed to the manager (StealIdle): it frees a
// permit all the same.
func (p *Pool) closeConn(c *conn, reason CloseReason) {
	if p.owed > 0 {
		p.owed--
	}
	p.dropConn(c)
	p.noteEvictedClose(c)
	p.closesInFlight++
	p.stats.closes[reason]++
	switch reason {
	case ReasonTokenExpired, ReasonTokenExpiring:
		p.stats.expiredClosed++
	case ReasonStaleToken:
		p.stats.staleDrained++
	}
	e := Effect{Kind: EffClose, Conn: c.id, Resource: c.resource, Reason: reason}
	if reason == ReasonForced {
		e.Holder = c.holder
	}
	p.emit(e)
}

// closeDone records that a close asked for earlier has finished.
func (p *Pool) closeDone(now time.Time, id ConnID) {
	p.closesInFlight--
	p.returnPermits(1)
	p.evictCloseDone(id)
	// The slot is free only now: a waiter or a MinSize refill may use it.
	p.serve(now)
	p.maybeRetire(now)
	p.maybeDrained()
}

// unlend takes c back from its holder: what every release changes first,
// through Step (release) or StepHitRelease.
func (p *Pool) unlend(now time.Time, c *conn) {
	p.busy--
	c.holder = nil
	p.lastActivity = now
}
