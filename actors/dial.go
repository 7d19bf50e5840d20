package actors

import (
	"time"

	"github.com/idpool/idpool/tokens"
)

// startDial reserves a slot and opens a connection. Under a global cap the
// reservation first waits for a permit from the manager; a token pool then
// needs a token, so it waits for the (single) mint in flight.
func (p *Pool) startDial(now time.Time) {
	if p.cfg.NeedsPermit {
		p.awaitingPermit++
		p.emit(Effect{Kind: EffRequestPermit})
		return
	}
	p.startPermittedDial(now)
}

func (p *Pool) startPermittedDial(now time.Time) {
	if p.cfg.UsesToken && len(p.freshTokens) > 0 {
		tok := p.freshTokens[0]
		p.freshTokens = p.freshTokens[1:]
		p.dialing++
		p.emit(Effect{Kind: EffDial, Token: tok})
		return
	}
	if p.cfg.UsesToken && p.cfg.RefreshAhead && p.latest.ValidBeyond(now, p.cfg.TokenThreshold) {
		// The token kept fresh ahead of expiry: no caller waits on a mint.
		p.dialing++
		p.emit(Effect{Kind: EffDial, Token: p.latest})
		return
	}
	if !p.cfg.UsesToken {
		p.dialing++
		p.emit(Effect{Kind: EffDial})
		return
	}
	p.awaitingToken++
	p.requestMint()
}

// requestMint starts a mint unless one is already in flight: one result
// serves every dial and token check waiting on it.
func (p *Pool) requestMint() {
	if p.minting {
		return
	}
	p.minting = true
	p.emit(Effect{Kind: EffMint})
}

// fillMin dials up to MinSize, unless recent fill dials failed and the
// backoff has not yet passed.
func (p *Pool) fillMin(now time.Time) {
	if p.closing || p.blocked(now) {
		return
	}
	for p.size() < p.cfg.MinSize {
		p.startDial(now)
	}
}

// DialDone records a finished dial: resource is the new connection, tok the
// token it logged in with. On success the oldest waiter gets it; on failure
// the reservation is freed and the oldest waiter no other dial covers fails
// with the cause.
func (p *Pool) DialDone(now time.Time, resource any, tok tokens.Token, err error) []Effect {
	p.out = p.out[:0]
	p.dialing--
	if err != nil {
		p.stats.dialFailures++
		p.returnPermits(1)
		derr := &DialError{Key: p.cfg.Key, Err: err}
		p.failUncovered(1, derr)
		p.startBlocking(now, derr)
		p.serve(now)
		p.maybeDrained()
		return p.out
	}
	p.endBlocking()
	p.stats.opens++
	c := p.newConn(now, resource, tok)
	if p.closing {
		p.closeConn(c, ReasonPoolClosed)
		p.maybeDrained()
		return p.out
	}
	if w := p.waiters.firstUnserved(); w != nil {
		// Just opened with a freshly minted token: no check needed.
		p.grant(now, w, w.id, w.replyTo, w.since, c)
	} else {
		p.parkIdle(c)
	}
	p.serve(now)
	return p.out
}

func (p *Pool) newConn(now time.Time, resource any, tok tokens.Token) *conn {
	p.nextConn++
	c := &conn{id: p.nextConn, resource: resource, created: now, idleSince: now, token: tok, fresh: true}
	if p.cfg.MaxLifetime > 0 {
		life := p.cfg.MaxLifetime
		if p.cfg.LifetimeJitter > 0 {
			life -= time.Duration(p.rng.Int64N(int64(p.cfg.LifetimeJitter)))
		}
		c.deadline = now.Add(life)
	}
	p.conns[c.id] = c
	return c
}

// failUncovered fails up to n of the oldest waiters that no dial in flight
// will serve any more: they were counting on the dial (or mint) that failed.
func (p *Pool) failUncovered(n int, err error) {
	for ; n > 0 && p.waiters.unserved() > p.coming(); n-- {
		w := p.waiters.firstUnserved()
		p.waiters.remove(w)
		p.emit(Effect{Kind: EffFail, ReplyTo: w.replyTo, AcquireID: w.id, Err: err})
	}
}

// blockAfter is how many dials or mints in a row must fail before a blocking
// period starts: one transient failure (a dropped SYN, a throttled login)
// should cost one caller, not every caller for a while.
const blockAfter = 2

// startBlocking begins (or extends) the blocking period after failed dials
// or mints; see PoolConfig.DialBackoff.
func (p *Pool) startBlocking(now time.Time, err error) {
	p.dialFailures++
	p.lastDialErr = err
	if p.cfg.DialBackoff <= 0 || p.dialFailures < blockAfter {
		return
	}
	backoff := p.cfg.DialBackoff << min(p.dialFailures-blockAfter, 20)
	if p.cfg.DialBackoffMax > 0 && (backoff > p.cfg.DialBackoffMax || backoff <= 0) {
		backoff = p.cfg.DialBackoffMax
	}
	// +-20% jitter, so pools that failed together do not retry together.
	backoff += time.Duration(p.rng.Int64N(int64(backoff)/5+1)*2 - int64(backoff)/5)
	p.blockedUntil = now.Add(backoff)
	p.stats.blockedPeriods++
	p.wakeNoLaterThan(p.blockedUntil)
}

// endBlocking ends a failure streak and its blocking period.
func (p *Pool) endBlocking() {
	p.dialFailures = 0
	p.blockedUntil = time.Time{}
	p.lastDialErr = nil
}

// blocked reports whether the pool is inside a blocking period.
func (p *Pool) blocked(now time.Time) bool { return now.Before(p.blockedUntil) }

// failBlocked fails, youngest first, the waiters that nothing can serve
// during a blocking period: not a dial in flight, not a leased connection
// coming back. They get the last dial error at once instead of a timeout.
func (p *Pool) failBlocked(now time.Time) {
	if !p.blocked(now) || p.lastDialErr == nil {
		return
	}
	for p.waiters.unserved() > p.coming()+p.busy {
		w := p.waiters.lastUnserved()
		p.waiters.remove(w)
		p.stats.blockedFails++
		p.emit(Effect{Kind: EffFail, ReplyTo: w.replyTo, AcquireID: w.id, Err: &BlockedError{Err: p.lastDialErr, Until: p.blockedUntil}})
	}
}

// MintDone records a finished token mint. Dials waiting on it proceed with
// tok; connections whose token was near expiry are settled: the same token
// (still valid) keeps them, with its new expiry; a rotated token retires them
// and their idle siblings holding the stale token, and reopens with tok
// without minting again.
func (p *Pool) MintDone(now time.Time, tok tokens.Token, err error) []Effect {
	p.out = p.out[:0]
	p.minting = false
	if p.closing {
		p.settleChecksOnClose()
		p.maybeDrained()
		return p.out
	}
	if err != nil {
		p.mintFailed(now, err)
		return p.out
	}
	p.stats.mints++
	p.latest = tok
	p.wakeNoLaterThan(p.nextRefresh(now))
	if de, ok := p.lastDialErr.(*DialError); ok && de.Mint {
		p.endBlocking() // the token endpoint works again
	}
	for ; p.awaitingToken > 0; p.awaitingToken-- {
		p.dialing++
		p.emit(Effect{Kind: EffDial, Token: tok})
	}
	checking := p.checking
	p.checking = nil
	for _, c := range checking {
		if p.conns[c.id] != c { // closed meanwhile
			continue
		}
		if c.token.Value == tok.Value {
			p.refreshExpiry(tok)
			p.settleChecked(now, c)
			continue
		}
		p.rotate(c, tok)
	}
	p.serve(now)
	return p.out
}

// dropSpareTokens forgets fresh tokens no reservation is waiting to use: a
// token kept around would only get older.
func (p *Pool) dropSpareTokens() {
	if n := min(len(p.freshTokens), p.awaitingPermit); n < len(p.freshTokens) {
		clear(p.freshTokens[n:])
		p.freshTokens = p.freshTokens[:n]
	}
}

// refreshExpiry records tok's (possibly later) expiry on every connection
// that logged in with it.
func (p *Pool) refreshExpiry(tok tokens.Token) {
	for _, c := range p.conns {
		if c.token.Value == tok.Value {
			c.token.ExpiresOn = tok.ExpiresOn
		}
	}
}

// rotate retires c, whose token was replaced, and every idle connection with
// the same stale token. c's waiter goes back to the queue; the fresh token is
// kept so that, if serve must dial for it (no usable idle connection), the
// dial needs no second mint.
func (p *Pool) rotate(c *conn, fresh tokens.Token) {
	p.stats.rotations++
	stale := c.token.Value
	if w := c.waiter; w != nil {
		p.waiters.unbind(w)
	}
	p.freshTokens = append(p.freshTokens, fresh)
	p.closeConn(c, ReasonTokenRotated)
	kept := p.idle[:0]
	for _, s := range p.idle {
		if s.token.Value == stale {
			p.closeConn(s, ReasonStaleToken)
			continue
		}
		kept = append(kept, s)
	}
	clear(p.idle[len(kept):])
	p.idle = kept
}

// settleChecked finishes a successful token check of c: a health check may
// still be due; otherwise c goes to its waiter, or back to idle.
func (p *Pool) settleChecked(now time.Time, c *conn) {
	w := c.waiter
	if p.cfg.HealthCheckAfter > 0 && now.Sub(c.idleSince) >= p.cfg.HealthCheckAfter {
		if w != nil {
			p.waiters.unbind(w)
		}
		p.startHealthCheck(c, w)
		return
	}
	if w != nil {
		p.grant(now, w, w.id, w.replyTo, w.since, c)
		return
	}
	p.parkIdle(c)
}

func (p *Pool) mintFailed(now time.Time, err error) {
	p.stats.mintFailures++
	n := p.awaitingToken
	p.awaitingToken = 0
	p.returnPermits(n)
	derr := &DialError{Key: p.cfg.Key, Mint: true, Err: err}
	p.failUncovered(n, derr)
	p.startBlocking(now, derr)
	// A connection whose token was being re-checked: its token is still
	// accepted by the server until it expires, so a still-valid one is used
	// rather than failing the caller; an unknown or past expiry fails closed.
	checking := p.checking
	p.checking = nil
	for _, c := range checking {
		if p.conns[c.id] != c {
			continue
		}
		w := c.waiter
		if !c.token.ExpiresOn.IsZero() && now.Before(c.token.ExpiresOn) {
			p.settleChecked(now, c)
			continue
		}
		if w != nil {
			p.waiters.remove(w)
			p.emit(Effect{Kind: EffFail, ReplyTo: w.replyTo, AcquireID: w.id, Err: derr})
		}
		p.closeConn(c, ReasonTokenExpiring)
	}
	p.serve(now)
	p.maybeDrained()
}

// settleChecksOnClose closes connections whose token check ended after Close.
func (p *Pool) settleChecksOnClose() {
	for _, c := range p.checking {
		if p.conns[c.id] == c {
			p.closeConn(c, ReasonPoolClosed)
		}
	}
	p.checking = nil
}

// ValidateDone records a finished health check. A healthy connection goes to
// the waiter it was checked for (or back to idle); a dead one is closed and
// that waiter is served by another connection or a new dial, silently.
func (p *Pool) ValidateDone(now time.Time, id ConnID, ok bool) []Effect {
	p.out = p.out[:0]
	c := p.conns[id]
	if c == nil || c.state != connChecking || c.check != checkHealth {
		return p.out
	}
	w := c.waiter
	if w != nil {
		p.waiters.unbind(w)
	}
	switch {
	case p.closing:
		p.closeConn(c, ReasonPoolClosed)
	case !ok:
		p.stats.healthFailures++
		p.closeConn(c, ReasonFailedHealthCheck)
	case w != nil:
		c.idleSince = now
		p.grant(now, w, w.id, w.replyTo, w.since, c)
	default:
		c.idleSince = now
		p.parkIdle(c)
	}
	p.serve(now)
	p.maybeDrained()
	return p.out
}
