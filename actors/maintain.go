package actors

import "time"

// tick runs the timers: idle connections past their lifetime, near their
// token's expiry or idle too long (beyond MinSize) are closed, MinSize is
// topped up, and an idle pool asks to retire. Then it asks for the next Tick.
func (p *Pool) tick(now time.Time) {
	p.wakeAt = time.Time{}
	if p.closing {
		return
	}
	// A Tick for anything else (a waiter's deadline, an idle timeout)
	// comes before fillRetryAfter: asking then would cost the manager a
	// refusal each, at every Tick of every pool below MinSize at the cap.
	if p.fillHeld && !now.Before(p.rare.fillRetryAt) {
		p.fillHeld = false
	}
	p.expireWaiters(now)
	p.sweepIdle(now)
	p.refreshAhead(now)
	p.serve(now)
	p.maybeRetire(now)
	p.rescheduleWake(now)
}

// expireWaiters fails the queued acquires whose deadline has passed.
func (p *Pool) expireWaiters(now time.Time) {
	var expired []*waiter
	p.waiters.each(func(w *waiter) bool {
		if !w.deadline.IsZero() && !now.Before(w.deadline) {
			expired = append(expired, w)
		}
		return true
	})
	for _, w := range expired {
		p.waiters.remove(w)
		p.stats.timeouts++
		p.emit(Effect{Kind: EffFail, ReplyTo: w.replyTo, AcquireID: w.id,
			Err: &TimeoutError{Key: p.cfg.Key, MaxSize: p.cfg.MaxSize, Waiters: p.waiters.live, Pool: p.waitedOn()}})
	}
}

// sweepIdle closes idle connections that may not be reused, keeping the LIFO
// order of the rest. Idle timeouts take the oldest-idle first and stop at
// MinSize.
func (p *Pool) sweepIdle(now time.Time) {
	kept := p.idle[:0]
	for _, c := range p.idle {
		if reason, dead := p.deadAt(c, now); dead {
			p.closeConn(c, reason)
			continue
		}
		if p.tokenExpiring(c, now) {
			p.closeConn(c, ReasonTokenExpiring)
			continue
		}
		kept = append(kept, c)
	}
	clear(p.idle[len(kept):])
	p.idle = kept
	if p.cfg.IdleTimeout <= 0 {
		return
	}
	// p.idle[0] is the connection idle the longest.
	n := 0
	for n < len(p.idle) && len(p.conns) > p.cfg.MinSize && now.Sub(p.idle[n].idleSince) >= p.cfg.IdleTimeout {
		p.closeConn(p.idle[n], ReasonIdleTimeout)
		n++
	}
	if n > 0 {
		rest := copy(p.idle, p.idle[n:])
		clear(p.idle[rest:])
		p.idle = p.idle[:rest]
	}
}

// refreshAhead starts a background mint once the newest token is inside the
// threshold (azidentity then hands out a new one), if connections are open.
func (p *Pool) refreshAhead(now time.Time) {
	if !p.cfg.RefreshAhead || !p.cfg.UsesToken || p.minting || len(p.conns) == 0 || p.latest.IsZero() {
		return
	}
	if !p.latest.ValidBeyond(now, p.cfg.TokenThreshold) {
		p.stats.refreshes++
		p.requestMint(now)
	}
}

// nextRefresh is when refreshAhead should next look, or zero.
func (p *Pool) nextRefresh(now time.Time) time.Time {
	if !p.cfg.RefreshAhead || !p.cfg.UsesToken || p.minting || len(p.conns) == 0 || !p.latest.ValidBeyond(now, p.cfg.TokenThreshold) {
		return time.Time{}
	}
	return p.latest.ExpiresOn.Add(-p.cfg.TokenThreshold)
}

// tokenExpiring: the connection's known token expiry is inside the threshold,
// so it is closed rather than risk a session meeting an expired token.
func (p *Pool) tokenExpiring(c *conn, now time.Time) bool {
	return p.cfg.UsesToken && !c.token.ExpiresOn.IsZero() && !c.token.ValidBeyond(now, p.cfg.TokenThreshold)
}

// connWake is when idle connection c next needs attention.
func (p *Pool) connWake(c *conn) time.Time {
	var at time.Time
	earliest := func(t time.Time) {
		if !t.IsZero() && (at.IsZero() || t.Before(at)) {
			at = t
		}
	}
	earliest(c.deadline)
	if p.cfg.UsesToken && !c.token.ExpiresOn.IsZero() {
		earliest(c.token.ExpiresOn.Add(-p.cfg.TokenThreshold))
	}
	if p.cfg.IdleTimeout > 0 && len(p.conns) > p.cfg.MinSize {
		earliest(c.idleSince.Add(p.cfg.IdleTimeout))
	}
	return at
}

// needsWakeBefore reports whether connWake(c) is before t: the same three
// times, the idle timeout's compared without building it (a.Add(d).Before(t)
// is t.Sub(a) > d, on the same clock readings Before would use). The token's
// is built, as connWake does: its expiry has no monotonic reading, so Sub
// would take its slow path (an Add and an Equal inside), dearer than the
// Add and Before here.
func (p *Pool) needsWakeBefore(c *conn, t time.Time) bool {
	if !c.deadline.IsZero() && c.deadline.Before(t) {
		return true
	}
	if p.cfg.UsesToken && !c.token.ExpiresOn.IsZero() && c.token.ExpiresOn.Add(-p.cfg.TokenThreshold).Before(t) {
		return true
	}
	return p.cfg.IdleTimeout > 0 && len(p.conns) > p.cfg.MinSize && t.Sub(c.idleSince) > p.cfg.IdleTimeout
}

// rescheduleWake recomputes the next Tick from scratch.
func (p *Pool) rescheduleWake(now time.Time) {
	var at time.Time
	earliest := func(t time.Time) {
		if !t.IsZero() && (at.IsZero() || t.Before(at)) {
			at = t
		}
	}
	for _, c := range p.idle {
		earliest(p.connWake(c))
	}
	earliest(p.nextRefresh(now))
	if until := p.blockedUntil(); now.Before(until) && (p.size() < p.cfg.MinSize || p.waiters.live > 0) {
		earliest(until)
	}
	if p.fillHeld && p.size() < p.cfg.MinSize {
		earliest(p.rare.fillRetryAt)
	}
	if p.cfg.RetireAfter > 0 && !p.retireAsked {
		at := p.lastActivity.Add(p.cfg.RetireAfter)
		if (!p.quiet() || p.closesInFlight > 0) && !at.After(now) {
			// Busy past its retirement time (a long lease), or waiting
			// for closes (closeDone asks then): look again later rather
			// than spin on a deadline already passed.
			at = now.Add(p.cfg.RetireAfter)
		}
		earliest(at)
	}
	p.waiters.each(func(w *waiter) bool {
		earliest(w.deadline)
		return true
	})
	if !at.IsZero() && at.Before(now) {
		at = now
	}
	p.wakeNoLaterThan(at)
}

// wakeNoLaterThan makes sure a Tick comes at t or earlier.
func (p *Pool) wakeNoLaterThan(t time.Time) {
	if t.IsZero() || p.closing {
		return
	}
	if p.wakeAt.IsZero() || t.Before(p.wakeAt) {
		p.wakeAt = t
		p.emit(Effect{Kind: EffWake, At: t})
	}
}
