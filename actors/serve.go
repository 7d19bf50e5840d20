package actors

import (
	"time"

	"github.com/idpool/idpool/messages"
	"github.com/idpool/idpool/tokens"
)

// Where a waiter is served. serve runs after every input that may have freed
// a connection or a slot: idle connections go to waiters in arrival order
// (after a health or token check on the waiter's behalf when one is due),
// then the pool dials for the waiters no dial in flight covers, then tops up
// to MinSize. A connection just opened or just checked reaches its waiter
// through offer (expiry.go), which judges its token again first.

// serve hands usable idle connections to waiters in arrival order, then dials
// for waiters no dial in flight will cover, then tops up to MinSize.
func (p *Pool) serve(now time.Time) {
	if p.closing || p.nothingToServe() {
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
		p.fillMin(now) // dials nothing: asks for the Tick that ends the period
		return
	}
	for p.waiters.unserved() > p.coming() && p.size() < p.cfg.MaxSize {
		p.startDial(now, false)
	}
	p.fillMin(now)
}

// nothingToServe reports that serve would do nothing: no waiter to serve
// or dial for, the pool at MinSize or above (fillMin dials nothing), and no
// rare state, so no dial backoff to fail waiters under (blocked is false)
// and no fresh token to drop. Every Release of a pool without waiters, the
// hit path's second half, is such a case; testing it first spares the calls
// and the deferred dropSpareTokens.
func (p *Pool) nothingToServe() bool {
	return p.rare == nil && p.waiters.unserved() == 0 && p.size() >= p.cfg.MinSize && !p.cfg.noFastPaths
}

// startCheckOrGrant gives c to w, or first checks it on w's behalf.
func (p *Pool) startCheckOrGrant(now time.Time, w *waiter, c *conn) {
	switch p.checkFor(now, c) {
	case checkNone:
		p.grant(w, w.id, w.replyTo, now.Sub(w.since), c, w.holder)
	case checkToken:
		if p.knownRotated(now, c) {
			// The pool already holds a newer token than c's: no need to
			// mint to learn that c is stale.
			p.rotate(c, p.latest)
			return
		}
		p.startTokenCheck(now, c, w)
	case checkHealth:
		p.startHealthCheck(c, w)
	}
}

// checkFor says what must happen before c may be handed out.
func (p *Pool) checkFor(now time.Time, c *conn) checkKind {
	if p.cfg.UsesToken && !p.tokenGoodAt(c.token, now) {
		return checkToken
	}
	if p.healthDue(now, c) {
		return checkHealth
	}
	return checkNone
}

// tokenGoodAt is tok.ValidBeyond(now, TokenThreshold), which a grant
// asks of every connection of a token pool, computed from the time tok
// enters the threshold (as connWake does): now.Before(ExpiresOn -
// TokenThreshold). Both compare the same clock readings (the Add keeps
// ExpiresOn's monotonic reading, or its lack of one) and agree exactly
// (TestTokenGoodAtIsValidBeyond). A token's expiry comes from its source
// without a monotonic reading, while now has one: ValidBeyond's Sub then
// takes its slow path (the difference of wall readings, then an Add and an
// Equal to rule out overflow), where this costs an Add of a wall reading
// and a Before.
func (p *Pool) tokenGoodAt(tok tokens.Token, now time.Time) bool {
	return !tok.ExpiresOn.IsZero() && now.Before(tok.ExpiresOn.Add(-p.cfg.TokenThreshold))
}

// healthDue: c must be health-checked before its next grant, because it
// idled past HealthCheckAfter or a sibling came back broken (suspect).
func (p *Pool) healthDue(now time.Time, c *conn) bool {
	return p.cfg.HealthCheckAfter > 0 && (c.suspect || now.Sub(c.idleSince) >= p.cfg.HealthCheckAfter)
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

func (p *Pool) startTokenCheck(now time.Time, c *conn, w *waiter) {
	c.state = connChecking
	c.check = checkToken
	if w != nil {
		p.waiters.bind(w, c)
	}
	p.checking = append(p.checking, c)
	p.requestMint(now)
}

// grant hands c to the acquire id, which waited that long. w is nil on the
// fast path, where the acquire never queued: it waited 0, and its caller
// passes that rather than now.Sub(now), a subtraction whose result is known
// (and which, on times without a monotonic reading, costs a time.Time.Add
// and an Equal to check for overflow).
func (p *Pool) grant(w *waiter, id uint64, replyTo chan messages.Reply, waited time.Duration, c *conn, holder messages.DirectGrant) {
	if w != nil {
		p.waiters.remove(w)
	}
	p.lend(c, holder, waited)
	p.emit(Effect{Kind: EffGrant, ReplyTo: replyTo, AcquireID: id, Conn: c.id, Resource: c.resource, Waited: waited})
}

// lend marks c leased to holder and counts the grant: what every grant
// changes, whether Step emits it (grant) or StepHit returns it.
func (p *Pool) lend(c *conn, holder messages.DirectGrant, waited time.Duration) {
	c.state = connBusy
	c.holder = holder
	c.check = checkNone
	p.busy++
	if c.fresh {
		c.fresh = false
		p.stats.misses++
	} else {
		p.stats.hits++
	}
	p.recordWait(waited)
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
