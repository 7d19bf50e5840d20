package actors

import "time"

// Acquire asks for a connection for the caller identified by id; replyTo is
// handed back untouched in the effect that answers it. An idle connection
// that needs no check is granted at once; otherwise the caller queues (FIFO)
// and the pool dials if it has room. A queued caller still waiting after
// timeout (if positive) fails with a *TimeoutError; a caller bounding the
// wait itself passes zero and sends Cancel when it gives up.
func (p *Pool) Acquire(now time.Time, id uint64, replyTo any, timeout time.Duration) []Effect {
	p.out = p.out[:0]
	p.seen++
	p.stats.acquires++
	p.lastActivity = now
	p.retireAsked = false
	if p.cfg.RetireAfter > 0 {
		// Make sure a Tick comes to consider retirement, whatever path this
		// acquire takes (a refused retirement is asked again this way).
		p.wakeNoLaterThan(now.Add(p.cfg.RetireAfter))
	}
	if p.closing {
		p.emit(Effect{Kind: EffFail, ReplyTo: replyTo, AcquireID: id, Err: ErrClosed})
		return p.out
	}
	if p.waiters.live == 0 {
		if c := p.popUsable(now); c != nil {
			if p.checkFor(now, c) == checkNone {
				p.grant(now, nil, id, replyTo, now, c)
				return p.out
			}
			p.pushIdle(c) // serve() below starts its check on the waiter's behalf
		}
	}
	if p.cfg.MaxWaiters > 0 && p.waiters.live >= p.cfg.MaxWaiters {
		p.stats.exhausted++
		p.emit(Effect{Kind: EffFail, ReplyTo: replyTo, AcquireID: id, Err: ErrPoolExhausted})
		p.serve(now) // a candidate pushed back above must not sit idle
		return p.out
	}
	w := &waiter{id: id, replyTo: replyTo, since: now}
	if timeout > 0 {
		w.deadline = now.Add(timeout)
		p.wakeNoLaterThan(w.deadline)
	}
	p.waiters.push(w)
	p.serve(now)
	return p.out
}

// Cancel withdraws a queued acquire whose caller gave up. If it was already
// answered, Cancel does nothing: the caller will read that answer instead.
func (p *Pool) Cancel(now time.Time, id uint64, timeout bool) []Effect {
	p.out = p.out[:0]
	w := p.waiters.get(id)
	if w == nil {
		return p.out
	}
	// A connection being checked for w stays in its check; when the check
	// ends it serves someone else or goes idle.
	p.waiters.remove(w)
	if timeout {
		p.stats.timeouts++
	} else {
		p.stats.cancels++
	}
	p.emit(Effect{Kind: EffCancelled, ReplyTo: w.replyTo, AcquireID: id, Waiters: p.waiters.live})
	return p.out
}

// serve hands usable idle connections to waiters in arrival order, then dials
// for waiters no dial in flight will cover, then tops up to MinSize.
func (p *Pool) serve(now time.Time) {
	if p.closing {
		return
	}
	for p.waiters.unserved() > 0 {
		c := p.popUsable(now)
		if c == nil {
			break
		}
		w := p.waiters.firstUnserved()
		p.startCheckOrGrant(now, w, c)
	}
	defer p.dropSpareTokens()
	if p.blocked(now) {
		p.failBlocked(now)
		return
	}
	for p.waiters.unserved() > p.coming() && p.size() < p.cfg.MaxSize {
		p.startDial(now, false)
	}
	p.fillMin(now)
}

// startCheckOrGrant gives c to w, or first checks it on w's behalf.
func (p *Pool) startCheckOrGrant(now time.Time, w *waiter, c *conn) {
	switch p.checkFor(now, c) {
	case checkNone:
		p.grant(now, w, w.id, w.replyTo, w.since, c)
	case checkToken:
		if p.knownRotated(now, c) {
			// The pool already holds a newer token than c's: no need to
			// mint to learn that c is stale.
			p.rotate(c, p.latest)
			return
		}
		p.startTokenCheck(c, w)
	case checkHealth:
		p.startHealthCheck(c, w)
	}
}

// checkFor says what must happen before c may be handed out.
func (p *Pool) checkFor(now time.Time, c *conn) checkKind {
	if p.cfg.UsesToken && !c.token.ValidBeyond(now, p.cfg.TokenThreshold) {
		return checkToken
	}
	if p.cfg.HealthCheckAfter > 0 && (c.suspect || now.Sub(c.idleSince) >= p.cfg.HealthCheckAfter) {
		return checkHealth
	}
	return checkNone
}

// knownRotated: c's token is near expiry, and the newest token the pool
// minted differs from it and is itself good beyond the threshold.
func (p *Pool) knownRotated(now time.Time, c *conn) bool {
	return !p.latest.IsZero() && p.latest.Value != c.token.Value && p.latest.ValidBeyond(now, p.cfg.TokenThreshold)
}

func (p *Pool) startHealthCheck(c *conn, w *waiter) {
	c.state = connChecking
	c.check = checkHealth
	if w != nil {
		p.waiters.bind(w, c)
	}
	p.emit(Effect{Kind: EffValidate, Conn: c.id, Resource: c.resource})
}

func (p *Pool) startTokenCheck(c *conn, w *waiter) {
	c.state = connChecking
	c.check = checkToken
	if w != nil {
		p.waiters.bind(w, c)
	}
	p.checking = append(p.checking, c)
	p.requestMint()
}

// grant hands c to the acquire id. w is nil on the fast path, where the
// acquire never queued.
func (p *Pool) grant(now time.Time, w *waiter, id uint64, replyTo any, since time.Time, c *conn) {
	if w != nil {
		p.waiters.remove(w)
	}
	c.state = connBusy
	c.check = checkNone
	p.busy++
	if c.fresh {
		c.fresh = false
		p.stats.misses++
	} else {
		p.stats.hits++
	}
	waited := now.Sub(since)
	p.recordWait(waited)
	p.emit(Effect{Kind: EffGrant, ReplyTo: replyTo, AcquireID: id, Conn: c.id, Resource: c.resource, Waited: waited})
}

// popUsable pops idle connections, closing those past their lifetime or with
// an expired token, until one may be a candidate.
func (p *Pool) popUsable(now time.Time) *conn {
	for len(p.idle) > 0 {
		c := p.idle[len(p.idle)-1]
		p.idle[len(p.idle)-1] = nil
		p.idle = p.idle[:len(p.idle)-1]
		if reason, dead := p.deadAt(c, now); dead {
			p.closeConn(c, reason)
			continue
		}
		return c
	}
	return nil
}

func (p *Pool) pushIdle(c *conn) {
	c.state = connIdle
	c.check = checkNone
	p.idle = append(p.idle, c)
}
